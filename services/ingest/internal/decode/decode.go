// Package decode turns one INGEST message (docs/PROTOCOL.md "INGEST server") into
// store writes, checking each item on its own: valid items become writes in
// message order, invalid ones become counted drops. It is a pure function of
// the body, so it is fuzzed directly.
package decode

import (
	"github.com/messageplane/mp/internal/limits"
	"github.com/messageplane/mp/internal/protocol"
	"github.com/messageplane/mp/internal/wire"
)

// Reason is a drop reason, the label of mp_ingest_dropped_total.
type Reason = protocol.Reason

// Write is one store write: an append (one payload) or a snapshot replace.
type Write struct {
	Store, Topic string
	Replace      bool
	Payloads     [][]byte
}

// Result is what one message became.
type Result struct {
	Writes []Write
	Items  int            // items the message carried (1 when it carried none)
	Drops  map[Reason]int // dropped items by reason
}

func (r *Result) drop(reason Reason, n int) {
	if n <= 0 {
		return
	}
	if r.Drops == nil {
		r.Drops = map[Reason]int{}
	}
	r.Drops[reason] += n
}

// Valid counts the items that became writes.
func (r *Result) Valid() int {
	n := 0
	for _, w := range r.Writes {
		n += len(w.Payloads)
	}
	return n
}

// Decode decodes one message body.
func Decode(body []byte, lim limits.Config) Result {
	var r Result
	// A delta item's payload (items[i].payload) is only ever stored: it
	// stays encoded until it becomes payload JSON.
	v, _, err := wire.DecodeKeeping(body, "payload", 3)
	if err != nil || v.Kind != wire.Object {
		return Undecodable()
	}
	items, hasItems := v.Get("items")
	// A whole-message failure counts each item it carried, or 1 when it
	// carried none; otherwise every item is written or dropped on its own.
	carried := 1
	if items.Kind == wire.Array {
		r.Items = len(items.Arr)
		carried = max(1, len(items.Arr))
	}
	fail := func(reason Reason) Result {
		r.Writes, r.Drops, r.Items = nil, nil, carried
		r.drop(reason, carried)
		return r
	}
	kind, _ := v.Get("kind")
	if kind.Kind != wire.String {
		return fail(protocol.DropBadKind)
	}
	switch kind.Str {
	case "delta", "delta_batch":
		if !hasItems || items.Kind != wire.Array {
			return fail(protocol.DropItemsNotList)
		}
		for _, it := range items.Arr {
			r.deltaItem(it, lim)
		}
	case "snapshot":
		if reason := r.snapshot(v, items, hasItems, lim); reason != "" {
			return fail(reason)
		}
	default:
		return fail(protocol.DropBadKind)
	}
	return r
}

func (r *Result) deltaItem(it wire.Value, lim limits.Config) {
	if it.Kind != wire.Object {
		r.drop(protocol.DropBadPayload, 1)
		return
	}
	store, ok := storeOf(it)
	if !ok {
		r.drop(protocol.DropInvalidStore, 1)
		return
	}
	tv, _ := it.Get("topic")
	topic, reason := topicOf(tv, "", lim)
	if reason != "" {
		r.drop(reason, 1)
		return
	}
	pv, ok := it.Get("payload")
	if !ok {
		r.drop(protocol.DropBadPayload, 1)
		return
	}
	payload, reason := payloadOf(pv, lim)
	if reason != "" {
		r.drop(reason, 1)
		return
	}
	// Consecutive items for the same topic share one Write.
	if n := len(r.Writes); n > 0 && !r.Writes[n-1].Replace && r.Writes[n-1].Store == store && r.Writes[n-1].Topic == topic {
		r.Writes[n-1].Payloads = append(r.Writes[n-1].Payloads, payload)
		return
	}
	r.Writes = append(r.Writes, Write{Store: store, Topic: topic, Payloads: [][]byte{payload}})
}

// snapshot decodes a snapshot; a non-empty reason fails the whole message.
func (r *Result) snapshot(v, items wire.Value, hasItems bool, lim limits.Config) Reason {
	mode, _ := v.Get("mode")
	replace := true
	switch {
	case mode.Kind == wire.Null:
	case mode.Kind == wire.String && mode.Str == "replace":
	case mode.Kind == wire.String && mode.Str == "append":
		replace = false
	default:
		return protocol.DropBadKind
	}
	if !hasItems || items.Kind != wire.Array {
		return protocol.DropItemsNotList
	}
	store, ok := storeOf(v)
	if !ok {
		return protocol.DropInvalidStore
	}
	tv, _ := v.Get("topic")
	topic, reason := topicOf(tv, protocol.SnapshotTopic, lim)
	if reason != "" {
		return reason
	}
	w := Write{Store: store, Topic: topic, Replace: replace}
	for _, it := range items.Arr {
		// A snapshot item is itself the payload: one that is not an object
		// is dropped, never wrapped as bus.publish wraps a delta payload.
		if it.Kind != wire.Object {
			r.drop(protocol.DropBadPayload, 1)
			continue
		}
		payload, reason := payloadOf(it, lim)
		if reason != "" {
			r.drop(reason, 1)
			continue
		}
		w.Payloads = append(w.Payloads, payload)
	}
	// A replace with no valid item still removes the topic.
	if replace || len(w.Payloads) > 0 {
		r.Writes = append(r.Writes, w)
	}
	return ""
}

// storeOf reads store (alias bus); null or absent is the default, a
// non-string is invalid.
func storeOf(v wire.Value) (string, bool) {
	s, ok := v.Get("store")
	if !ok || s.Kind == wire.Null {
		s, ok = v.Get("bus")
	}
	if !ok || s.Kind == wire.Null {
		return protocol.DefaultStore, true
	}
	if s.Kind != wire.String {
		return "", false
	}
	return s.Str, true
}

// topicOf applies the topic rules; def is used for null or absent ("" means
// required).
func topicOf(tv wire.Value, def string, lim limits.Config) (string, Reason) {
	topic := def
	switch tv.Kind {
	case wire.Null:
	case wire.String:
		topic = tv.Str
	default:
		return "", protocol.DropTopicInvalid
	}
	if v := lim.Topic(topic); v != nil {
		return "", v.Reason
	}
	return topic, ""
}

func payloadOf(pv wire.Value, lim limits.Config) ([]byte, Reason) {
	payload, v := lim.Payload(nil, pv)
	if v != nil {
		return nil, v.Reason
	}
	return payload, ""
}

// Undecodable is the result of a message that cannot be decoded at all
// (also a multipart message): one decode_error.
func Undecodable() Result {
	return Result{Items: 1, Drops: map[Reason]int{protocol.DropDecodeError: 1}}
}
