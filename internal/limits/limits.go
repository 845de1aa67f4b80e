// Package limits holds the stateless limits the edges enforce before any
// gRPC call (docs/PROTOCOL.md "Limits"): topic rules and payload size. The rpc and
// ingest edges apply the same rules through this one package.
package limits

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/messageplane/mp/internal/wire"
)

// Config is the edges' share of the limits, read from MP_* variables.
type Config struct {
	TopicNameMaxLen      int  `envconfig:"TOPIC_NAME_MAX_LEN" default:"128" desc:"longest topic name, in characters"`
	PayloadMaxBytes      int  `envconfig:"PAYLOAD_MAX_BYTES" default:"1048576" desc:"largest payload, as compact JSON bytes"`
	ValidatePayloadBytes bool `envconfig:"VALIDATE_PAYLOAD_BYTES" default:"true" desc:"enforce MP_PAYLOAD_MAX_BYTES"`
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.TopicNameMaxLen < 1 {
		return errors.New("MP_TOPIC_NAME_MAX_LEN must be at least 1")
	}
	if c.PayloadMaxBytes < 2 {
		return errors.New("MP_PAYLOAD_MAX_BYTES must be at least 2")
	}
	return nil
}

// Violation names a broken rule; its value is the ingest drop reason and,
// upper-cased, close to the RPC error code.
type Violation string

const (
	OK              Violation = ""
	TopicRequired   Violation = "topic_required"
	TopicInvalid    Violation = "topic_invalid"
	TopicTooLong    Violation = "topic_too_long"
	PayloadTooLarge Violation = "payload_too_large"
	BadPayload      Violation = "bad_payload"
)

// Topic checks a topic name: non-empty, no NUL, at most TopicNameMaxLen
// characters (inclusive).
func (c Config) Topic(topic string) Violation {
	switch {
	case topic == "":
		return TopicRequired
	case strings.IndexByte(topic, 0) >= 0 || !utf8.ValidString(topic):
		return TopicInvalid
	case len(topic) > c.TopicNameMaxLen && utf8.RuneCountInString(topic) > c.TopicNameMaxLen:
		return TopicTooLong
	}
	return OK
}

// Payload encodes a decoded payload into its stored form (compact JSON, a
// non-object x as {"value": x}) and checks its size (inclusive limit).
func (c Config) Payload(dst []byte, v wire.Value) ([]byte, Violation) {
	if dst == nil {
		dst = make([]byte, 0, wire.SizeHint(v)+16)
	}
	out, err := wire.EncodePayload(dst, v)
	if err != nil {
		return dst, BadPayload
	}
	if c.ValidatePayloadBytes && len(out)-len(dst) > c.PayloadMaxBytes {
		return dst, PayloadTooLarge
	}
	return out, OK
}
