package event

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/messageplane/mp/internal/wire"
)

// idKeys are the payload keys index.id is taken from, first non-empty wins.
var idKeys = [...]string{"message_id", "event_id", "lifecycle_id", "id", "task_id", "run_id"}

// Draft is an event before the store accepts it: payload and index are
// ready, seq and ts are not. Building it needs no lock.
type Draft struct {
	ev           Event
	timestampSet bool // false: index.timestamp is the event ts
}

// indexKeys are the payload keys the index reads, each mapped to itself so
// a lookup by the payload's bytes yields the name without copying it.
var indexKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"plugin_id", "source", "kind", "type", "message_type",
		"message_id", "event_id", "lifecycle_id", "id", "task_id", "run_id",
		"priority", "generation", "timestamp", "time", "metadata"} {
		m[k] = k
	}
	return m
}()

// NewDraft checks a payload (compact JSON of an object, as the edges send
// it) and extracts its index. Only the index keys' values are decoded; the
// rest is checked and skipped, since most of a payload is text the index
// never reads.
func NewDraft(payload []byte) (*Draft, error) {
	fields := wire.ObjectValue(make([]wire.Member, 0, 8))
	var bad error
	err := wire.ScanObject(payload, func(k, raw []byte) {
		key, ok := indexKeys[string(k)]
		if !ok || bad != nil {
			return
		}
		var v wire.Value
		if key == "metadata" {
			v, bad = metadata(raw)
		} else {
			v, bad = indexValue(raw)
		}
		fields.Obj = setMember(fields.Obj, key, v)
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, errNotObject
	}
	return newDraft(payload, fields), nil
}

// metadata keeps only metadata.conversation_id of a metadata object.
func metadata(raw []byte) (wire.Value, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return wire.NullValue(), nil
	}
	md := wire.ObjectValue(nil)
	var bad error
	err := wire.ScanObject(raw, func(k, v []byte) {
		if string(k) == "conversation_id" && bad == nil {
			var cv wire.Value
			cv, bad = indexValue(v)
			md.Obj = setMember(md.Obj, "conversation_id", cv)
		}
	})
	if err == nil {
		err = bad
	}
	return md, err
}

// indexValue decodes one index value that ScanObject has checked. A string
// without escapes (nearly every id, kind and plugin name) is viewed in place
// rather than copied: the draft copies what it keeps into the event, and
// the view does not outlive NewDraft. Decoding each one cost the store an
// allocation per index key per event.
func indexValue(raw []byte) (wire.Value, error) {
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		if len(raw) == 2 {
			return wire.StringValue(""), nil
		}
		return wire.StringValue(unsafe.String(&raw[1], len(raw)-2)), nil
	}
	return wire.DecodeJSON(raw)
}

// setMember keeps the last value of a repeated key, as wire's decoder does.
func setMember(obj []wire.Member, key string, v wire.Value) []wire.Member {
	for i := range obj {
		if obj[i].Key == key {
			obj[i].Val = v
			return obj
		}
	}
	return append(obj, wire.Member{Key: key, Val: v})
}

type draftError string

func (e draftError) Error() string { return string(e) }

const errNotObject = draftError("payload is not a JSON object")

func newDraft(payload []byte, v wire.Value) *Draft {
	var strs [numStrings]string
	var present uint8
	set := func(k int, s string) {
		strs[k] = s
		present |= 1 << k
	}
	if s, ok := stringOf(v, "plugin_id"); ok {
		set(PluginID, s)
	}
	if s, ok := stringOf(v, "source"); ok {
		set(Source, s)
	}
	if s, ok := stringOf(v, "kind"); ok && s != "" {
		set(Kind, s)
	}
	if s, ok := stringOf(v, "type"); ok && s != "" {
		set(Type, s)
	} else if s, ok := stringOf(v, "message_type"); ok && s != "" {
		set(Type, s)
	}
	for _, k := range idKeys {
		if s, ok := stringOf(v, k); ok && s != "" {
			set(ID, s)
			break
		}
	}
	if md, ok := v.Get("metadata"); ok {
		if s, ok := stringOf(md, "conversation_id"); ok && s != "" {
			set(ConversationID, s)
		}
	}

	d := &Draft{}
	n := len(payload)
	for _, s := range strs {
		n += len(s)
	}
	data := make([]byte, 0, n)
	data = append(data, payload...)
	d.ev.payloadLen = uint32(len(payload))
	for k, s := range strs {
		data = append(data, s...)
		d.ev.strEnd[k] = uint32(len(data))
	}
	d.ev.data = data
	d.ev.present = present

	p, _ := v.Get("priority")
	d.ev.Priority = Priority(p)
	if g, ok := v.Get("generation"); ok {
		if gen, ok := Generation(g); ok {
			d.ev.Generation = gen
			d.ev.present |= generationBit
		}
	}
	d.ev.Timestamp, d.timestampSet = Timestamp(v)
	return d
}

// Accept turns the draft into a stored event with its seq and ts.
// The draft's own event is handed over (no copy): a draft is accepted at
// most once, since every write builds its drafts afresh.
func (d *Draft) Accept(seq uint64, ts float64, topic string) *Event {
	ev := &d.ev
	ev.Seq, ev.TS, ev.Topic = seq, ts, topic
	if !d.timestampSet {
		ev.Timestamp = ts
	}
	return ev
}

func stringOf(v wire.Value, key string) (string, bool) {
	x, ok := v.Get(key)
	if !ok || x.Kind != wire.String {
		return "", false
	}
	return x.Str, true
}

// Priority implements index.priority: integers as they are, floats
// truncated toward zero, base-10 integer strings parsed (ASCII whitespace
// and a sign allowed); anything else, and anything outside int64, is 0.
func Priority(v wire.Value) int64 {
	switch v.Kind {
	case wire.Int:
		return v.Int
	case wire.Float:
		t := math.Trunc(v.Float)
		if t >= -9.223372036854775808e18 && t < 9.223372036854775808e18 {
			return int64(t)
		}
	case wire.String:
		// ParseInt takes one optional sign, as Python's int() does.
		s := strings.Trim(v.Str, asciiSpace)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	}
	return 0
}

// Generation implements index.generation: a number (never a boolean)
// truncated to an integer; null when not a number or outside int64.
func Generation(v wire.Value) (int64, bool) {
	switch v.Kind {
	case wire.Int:
		return v.Int, true
	case wire.Float:
		t := math.Trunc(v.Float)
		if t >= -9.223372036854775808e18 && t < 9.223372036854775808e18 {
			return int64(t), true
		}
	}
	return 0, false
}

// Timestamp implements index.timestamp: payload "timestamp" when present and
// not null, else "time"; a finite number or decimal string gives its value;
// a present value that is anything else gives the event ts (false), without
// falling through to "time"; absent both, the event ts (false).
func Timestamp(v wire.Value) (float64, bool) {
	x, ok := v.Get("timestamp")
	if !ok || x.Kind == wire.Null {
		x, ok = v.Get("time")
		if !ok {
			return 0, false
		}
	}
	return timestampValue(x)
}

func timestampValue(x wire.Value) (float64, bool) {
	switch x.Kind {
	case wire.Int, wire.Uint, wire.BigInt, wire.Float:
		f, _ := x.AsFloat()
		if !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, true
		}
	case wire.String:
		s := strings.Trim(x.Str, asciiSpace)
		if isDecimalLiteral(s) {
			if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
				return f, true
			}
		}
	}
	return 0, false
}

const asciiSpace = " \t\n\r\v\f"

// isDecimalLiteral matches docs/PROTOCOL.md's decimal literal: a sign, then
// digits with an optional fraction ("5", "5.", "5.25") or a fraction alone
// (".5"), then an optional exponent ("1e3", "5.E-2").
func isDecimalLiteral(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > start
	}
	whole := digits()
	fraction := false
	if i < len(s) && s[i] == '.' {
		i++
		fraction = digits()
	}
	if !whole && !fraction {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}
