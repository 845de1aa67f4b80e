// Package event is the stored form of one message: its seq, ts, the nine
// index keys extracted from the payload, and the payload's compact JSON. An
// event is immutable once built, so readers may render it without a lock.
package event

import (
	"strconv"

	"github.com/messageplane/mp/internal/wire"
)

// String index keys, in the order they are kept in Event.data.
const (
	PluginID = iota
	Source
	Kind
	Type
	ID
	ConversationID
	numStrings
)

// StringKeys are the index key names of the string fields, by constant.
var StringKeys = [numStrings]string{"plugin_id", "source", "kind", "type", "id", "conversation_id"}

const generationBit = 1 << numStrings

// Event is one stored message. Memory matters here (a store holds millions):
// the payload and the index strings share one allocation, and the index is
// rendered as JSON on read rather than kept twice.
type Event struct {
	Seq        uint64
	TS         float64
	Timestamp  float64
	Priority   int64
	Generation int64
	Topic      string // shares the topic's name, no copy

	// Removed is set once the event is evicted or replaced. Unlike every
	// other field it changes after creation, so it is read and written only
	// under the store's lock.
	Removed bool

	data       []byte // payload JSON, then the index strings back to back
	payloadLen uint32
	strEnd     [numStrings]uint32
	present    uint8 // bit i: string i is non-null; generationBit: generation non-null
}

// Payload returns the payload's compact JSON. It must not be modified.
func (e *Event) Payload() []byte { return e.data[:e.payloadLen] }

// Str returns string index key k and whether it is non-null.
func (e *Event) Str(k int) (string, bool) {
	if e.present&(1<<k) == 0 {
		return "", false
	}
	start := e.payloadLen
	if k > 0 {
		start = e.strEnd[k-1]
	}
	return string(e.data[start:e.strEnd[k]]), true
}

// StrEquals compares string key k with s without allocating.
func (e *Event) StrEquals(k int, s string) bool {
	if e.present&(1<<k) == 0 {
		return false
	}
	start := e.payloadLen
	if k > 0 {
		start = e.strEnd[k-1]
	}
	return string(e.data[start:e.strEnd[k]]) == s
}

// HasGeneration reports whether index.generation is non-null.
func (e *Event) HasGeneration() bool { return e.present&generationBit != 0 }

// Size is the approximate memory an event holds, for accounting.
func (e *Event) Size() int { return 120 + cap(e.data) }

// AppendJSON renders the event as docs/PROTOCOL.md describes it; light leaves
// the payload out.
func (e *Event) AppendJSON(dst []byte, store string, light bool) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, `,"ts":`...)
	dst = wire.AppendFloat(dst, e.TS)
	dst = append(dst, `,"store":`...)
	dst = wire.AppendString(dst, store)
	dst = append(dst, `,"topic":`...)
	dst = wire.AppendString(dst, e.Topic)
	dst = append(dst, `,"index":{"plugin_id":`...)
	dst = e.appendStr(dst, PluginID)
	dst = append(dst, `,"source":`...)
	dst = e.appendStr(dst, Source)
	dst = append(dst, `,"priority":`...)
	dst = strconv.AppendInt(dst, e.Priority, 10)
	dst = append(dst, `,"kind":`...)
	dst = e.appendStr(dst, Kind)
	dst = append(dst, `,"type":`...)
	dst = e.appendStr(dst, Type)
	dst = append(dst, `,"timestamp":`...)
	dst = wire.AppendFloat(dst, e.Timestamp)
	dst = append(dst, `,"id":`...)
	dst = e.appendStr(dst, ID)
	dst = append(dst, `,"generation":`...)
	if e.HasGeneration() {
		dst = strconv.AppendInt(dst, e.Generation, 10)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"conversation_id":`...)
	dst = e.appendStr(dst, ConversationID)
	dst = append(dst, '}')
	if !light {
		dst = append(dst, `,"payload":`...)
		dst = append(dst, e.Payload()...)
	}
	return append(dst, '}')
}

func (e *Event) appendStr(dst []byte, k int) []byte {
	s, ok := e.Str(k)
	if !ok {
		return append(dst, "null"...)
	}
	return wire.AppendString(dst, s)
}

// IndexValue returns index key name as a wire.Value (Null when null), and
// false when name is not an index key.
func (e *Event) IndexValue(name string) (wire.Value, bool) {
	switch name {
	case "priority":
		return wire.IntValue(e.Priority), true
	case "timestamp":
		return wire.FloatValue(e.Timestamp), true
	case "generation":
		if e.HasGeneration() {
			return wire.IntValue(e.Generation), true
		}
		return wire.NullValue(), true
	}
	for k, key := range StringKeys {
		if key == name {
			if s, ok := e.Str(k); ok {
				return wire.StringValue(s), true
			}
			return wire.NullValue(), true
		}
	}
	return wire.Value{}, false
}
