// Package protocol is the vocabulary of docs/PROTOCOL.md in one place: the
// error codes and their messages, the ingest drop reasons, the topic rules,
// the defaults, and how a store's refusal of an item maps onto a code and a
// reason. Every service says these things through this package.
package protocol

import (
	"strings"
	"unicode/utf8"

	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
)

// Code is an RPC error code.
type Code string

// The error codes of docs/PROTOCOL.md "RPC server".
const (
	BadRequest         Code = "BAD_REQUEST"
	UnsupportedVersion Code = "UNSUPPORTED_VERSION"
	UnknownOp          Code = "UNKNOWN_OP"
	BadArgs            Code = "BAD_ARGS"
	InvalidStore       Code = "INVALID_STORE"
	TopicRequired      Code = "TOPIC_REQUIRED"
	TopicTooLong       Code = "TOPIC_TOO_LONG"
	TooManyTopics      Code = "TOO_MANY_TOPICS"
	PayloadTooLarge    Code = "PAYLOAD_TOO_LARGE"
	PlanRequired       Code = "PLAN_REQUIRED"
	UnsupportedPlan    Code = "UNSUPPORTED_PLAN"
	Unavailable        Code = "UNAVAILABLE"
	Internal           Code = "INTERNAL"
)

// OutOfRange is the store's own refusal of a Watch that starts beyond its
// head (never a plugin's answer).
const OutOfRange Code = "OUT_OF_RANGE"

var messages = map[Code]string{
	BadRequest:         "invalid rpc envelope",
	UnsupportedVersion: "unsupported protocol version",
	UnknownOp:          "unknown op",
	BadArgs:            "invalid args",
	InvalidStore:       "invalid store",
	TopicRequired:      "topic is required",
	TopicTooLong:       "topic too long",
	TooManyTopics:      "too many topics",
	PayloadTooLarge:    "payload too large",
	PlanRequired:       "plan is required",
	UnsupportedPlan:    "unsupported plan",
	Unavailable:        "store unavailable",
	Internal:           "internal error",
	OutOfRange:         "after_seq is beyond the store's head in this epoch",
}

// Codes are the error codes a plugin can receive, in the contract's order.
var Codes = []Code{BadRequest, UnsupportedVersion, UnknownOp, BadArgs, InvalidStore, TopicRequired, TopicTooLong,
	TooManyTopics, PayloadTooLarge, PlanRequired, UnsupportedPlan, Unavailable, Internal}

// Message is the code's documented message (UNSUPPORTED_VERSION and
// UNKNOWN_OP add the value after ": ").
func (c Code) Message() string { return messages[c] }

// Reason is an ingest drop reason, the label of mp_ingest_dropped_total.
type Reason string

// The drop reasons of docs/PROTOCOL.md "INGEST server".
const (
	DropDecodeError     Reason = "decode_error"
	DropBadKind         Reason = "bad_kind"
	DropItemsNotList    Reason = "items_not_list"
	DropInvalidStore    Reason = "invalid_store"
	DropTopicRequired   Reason = "topic_required"
	DropTopicInvalid    Reason = "topic_invalid"
	DropTopicTooLong    Reason = "topic_too_long"
	DropTooManyTopics   Reason = "too_many_topics"
	DropPayloadTooLarge Reason = "payload_too_large"
	DropBadPayload      Reason = "bad_payload"
	// DropStoreError counts items the store refused for an unexpected reason,
	// or did not confirm before the shutdown grace ran out.
	DropStoreError Reason = "store_error"
)

// Reasons lists every reason, so metrics can show zeros.
var Reasons = []Reason{DropDecodeError, DropBadKind, DropItemsNotList, DropInvalidStore, DropTopicRequired, DropTopicInvalid,
	DropTopicTooLong, DropTooManyTopics, DropPayloadTooLarge, DropBadPayload, DropStoreError}

// Defaults of docs/PROTOCOL.md.
const (
	DefaultStore  = "messages"     // a request or item naming no store
	SnapshotTopic = "snapshot.all" // a snapshot naming no topic
	AllTopics     = "*"            // a read's topic meaning every topic of the store
)

// Violation is a broken item rule: one ingest reason and one RPC answer.
type Violation struct {
	Reason Reason
	Code   Code
	Field  string // BAD_ARGS' details.field
}

// The item rules a topic or payload can break.
var (
	ViolTopicRequired   = &Violation{DropTopicRequired, TopicRequired, ""}
	ViolTopicInvalid    = &Violation{DropTopicInvalid, BadArgs, "topic"}
	ViolTopicTooLong    = &Violation{DropTopicTooLong, TopicTooLong, ""}
	ViolPayloadTooLarge = &Violation{DropPayloadTooLarge, PayloadTooLarge, ""}
	ViolBadPayload      = &Violation{DropBadPayload, BadArgs, "payload"}
	ViolInvalidStore    = &Violation{DropInvalidStore, InvalidStore, ""}
	ViolTooManyTopics   = &Violation{DropTooManyTopics, TooManyTopics, ""}
)

// CheckTopic applies the topic rules (docs/PROTOCOL.md "Limits"): a
// non-empty string without NUL, valid UTF-8, of at most maxLen characters
// (inclusive; maxLen 0 leaves the length to whoever enforces it).
func CheckTopic(topic string, maxLen int) *Violation {
	switch {
	case topic == "":
		return ViolTopicRequired
	case strings.IndexByte(topic, 0) >= 0 || !utf8.ValidString(topic):
		return ViolTopicInvalid
	case maxLen > 0 && len(topic) > maxLen && utf8.RuneCountInString(topic) > maxLen:
		return ViolTopicTooLong
	}
	return nil
}

// The store refuses an item with a Reject; rejects maps each onto the rule.
var rejects = map[mpv1.Reject]*Violation{
	mpv1.Reject_REJECT_INVALID_STORE:   ViolInvalidStore,
	mpv1.Reject_REJECT_TOPIC_REQUIRED:  ViolTopicRequired,
	mpv1.Reject_REJECT_TOPIC_INVALID:   ViolTopicInvalid,
	mpv1.Reject_REJECT_TOPIC_TOO_LONG:  ViolTopicTooLong,
	mpv1.Reject_REJECT_TOO_MANY_TOPICS: ViolTooManyTopics,
	mpv1.Reject_REJECT_BAD_PAYLOAD:     ViolBadPayload,
}

// Rejected is the rule a store's Reject stands for; nil for REJECT_NONE,
// and for REJECT_EXPIRED, which is not a rule but a caller that stopped
// waiting (UNAVAILABLE).
func Rejected(r mpv1.Reject) *Violation { return rejects[r] }

// Reject is the store's Reject for a violation (REJECT_NONE for nil).
func Reject(v *Violation) mpv1.Reject {
	for r, x := range rejects {
		if x == v {
			return r
		}
	}
	return mpv1.Reject_REJECT_NONE
}
