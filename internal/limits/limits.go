// Package limits holds the stateless limits the edges enforce before any
// gRPC call (docs/PROTOCOL.md "Limits"): the configured topic length and
// payload size, applied with protocol's rules. The rpc and ingest edges
// apply the same limits through this one package.
package limits

import (
	"errors"

	"github.com/messageplane/mp/internal/protocol"
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

// Topic checks a topic name against the topic rules with this edge's
// length limit.
func (c Config) Topic(topic string) *protocol.Violation {
	return protocol.CheckTopic(topic, c.TopicNameMaxLen)
}

// Payload encodes a decoded payload into its stored form (compact JSON, a
// non-object x as {"value": x}) and checks its size (inclusive limit).
func (c Config) Payload(dst []byte, v wire.Value) ([]byte, *protocol.Violation) {
	if dst == nil {
		dst = make([]byte, 0, wire.SizeHint(v)+16)
	}
	out, err := wire.EncodePayload(dst, v)
	if err != nil {
		return dst, protocol.ViolBadPayload
	}
	if c.ValidatePayloadBytes && len(out)-len(dst) > c.PayloadMaxBytes {
		return dst, protocol.ViolPayloadTooLarge
	}
	return out, nil
}
