package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Error is a protocol error reply (docs/PROTOCOL.md, "Error codes and
// messages"). It matches the sentinel of its code with errors.Is:
//
//	if errors.Is(err, client.ErrTopicTooLong) { ... }
type Error struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
}

func (e *Error) Error() string {
	if len(e.Details) > 0 && string(e.Details) != "null" {
		return e.Code + ": " + e.Message + " " + string(e.Details)
	}
	return e.Code + ": " + e.Message
}

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	s, ok := codeSentinels[e.Code]
	return ok && s == target
}

// Detail returns details[key] decoded from JSON (nil when absent):
// "max" for TOPIC_TOO_LONG and PAYLOAD_TOO_LARGE (a float64), "field" for
// BAD_ARGS, "reason" for UNSUPPORTED_PLAN (human-readable; never parse it).
func (e *Error) Detail(key string) any {
	var m map[string]any
	if json.Unmarshal(e.Details, &m) != nil {
		return nil
	}
	return m[key]
}

// One sentinel per protocol error code.
var (
	ErrBadRequest         = errors.New("BAD_REQUEST")
	ErrUnsupportedVersion = errors.New("UNSUPPORTED_VERSION")
	ErrUnknownOp          = errors.New("UNKNOWN_OP")
	ErrBadArgs            = errors.New("BAD_ARGS")
	ErrInvalidStore       = errors.New("INVALID_STORE")
	ErrTopicRequired      = errors.New("TOPIC_REQUIRED")
	ErrTopicTooLong       = errors.New("TOPIC_TOO_LONG")
	ErrTooManyTopics      = errors.New("TOO_MANY_TOPICS")
	ErrPayloadTooLarge    = errors.New("PAYLOAD_TOO_LARGE")
	ErrPlanRequired       = errors.New("PLAN_REQUIRED")
	ErrUnsupportedPlan    = errors.New("UNSUPPORTED_PLAN")
	// ErrUnavailable: the store did not answer in time; nothing was stored
	// (a retried publish can be de-duplicated by index.id).
	ErrUnavailable = errors.New("UNAVAILABLE")
	ErrInternal    = errors.New("INTERNAL")
)

var codeSentinels = map[string]error{}

func init() {
	for _, e := range []error{ErrBadRequest, ErrUnsupportedVersion, ErrUnknownOp, ErrBadArgs,
		ErrInvalidStore, ErrTopicRequired, ErrTopicTooLong, ErrTooManyTopics, ErrPayloadTooLarge,
		ErrPlanRequired, ErrUnsupportedPlan, ErrUnavailable, ErrInternal} {
		codeSentinels[e.Error()] = e
	}
}

// ErrNoReply matches (errors.Is) every *NoReplyError.
var ErrNoReply = errors.New("no reply")

// NoReplyError says a call got no reply in time: the server is not running,
// not reachable at Endpoint, or too slow.
type NoReplyError struct {
	Endpoint string
	Op       string
	Waited   time.Duration
	Cause    error // the context's error
}

func (e *NoReplyError) Error() string {
	return fmt.Sprintf("%s: no reply from %s in %s", e.Op, e.Endpoint, e.Waited.Round(time.Millisecond))
}

// Unwrap lets errors.Is match ErrNoReply and the context's error
// (context.DeadlineExceeded or context.Canceled).
func (e *NoReplyError) Unwrap() []error { return []error{ErrNoReply, e.Cause} }
