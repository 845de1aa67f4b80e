// Package event is the form of one stored message: its seq, ts, the nine
// index keys extracted from the payload (docs/PROTOCOL.md "Events"), and
// the payload's compact JSON, and how it is rendered in JSON or msgpack.
//
// An event's bytes are its payload followed by a few bytes of extras:
// for each string index key present, where its JSON string literal sits in
// the payload (every index string is a literal of the payload), then
// index.generation when it is not null. Nothing holds a pointer, so the
// store can keep millions of events in flat arrays and byte chunks that
// the garbage collector never scans.
package event

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"unsafe"

	"github.com/messageplane/mp/internal/wire"
)

// Event is a read view of a stored event. Its bytes are shared with the
// store and must not be modified.
type Event struct {
	Seq       uint64
	TS        float64
	Timestamp float64
	Priority  int64
	Topic     string

	data       []byte // payload, then extras
	payloadLen uint32
	present    uint8 // bit k: string key k non-null; generationBit: generation non-null
}

// Fields are the fixed-size fields of an event, as the store keeps them.
type Fields struct {
	Seq        uint64
	TS         float64
	Timestamp  float64
	Priority   int64
	PayloadLen uint32
	Present    uint8
}

// View makes an event from its fixed fields, topic and bytes.
func View(f Fields, topic string, data []byte) Event {
	return Event{Seq: f.Seq, TS: f.TS, Timestamp: f.Timestamp, Priority: f.Priority, Topic: topic,
		data: data, payloadLen: f.PayloadLen, present: f.Present}
}

// Payload returns the payload's compact JSON.
func (e *Event) Payload() []byte { return e.data[:e.payloadLen] }

// Size is the event's bytes (payload and extras).
func (e *Event) Size() int { return len(e.data) }

// extras decodes the extras: each string key's literal (nil when null)
// and the generation.
func (e *Event) extras(lits *[maxStrings][]byte) (gen int64, hasGen bool) {
	ex := e.data[e.payloadLen:]
	for i := 0; i < numStrings; i++ {
		if e.present&(1<<i) == 0 {
			continue
		}
		off, n := binary.Uvarint(ex)
		l, n2 := binary.Uvarint(ex[n:])
		ex = ex[n+n2:]
		lits[i] = e.data[off : off+l]
	}
	if e.present&generationBit != 0 {
		gen, _ = binary.Varint(ex)
		hasGen = true
	}
	return gen, hasGen
}

// literal returns string key k's JSON literal (quotes included), and false
// when the key is null.
func (e *Event) literal(k int) ([]byte, bool) {
	if e.present&(1<<k) == 0 {
		return nil, false
	}
	ex := e.data[e.payloadLen:]
	for i := 0; i <= k; i++ {
		if e.present&(1<<i) == 0 {
			continue
		}
		off, n := binary.Uvarint(ex)
		ex = ex[n:]
		l, n := binary.Uvarint(ex)
		ex = ex[n:]
		if i == k {
			return e.data[off : off+l], true
		}
	}
	return nil, false
}

// extrasEnd is where the string references end in the extras.
func (e *Event) afterStrings() []byte {
	ex := e.data[e.payloadLen:]
	for i := 0; i < numStrings; i++ {
		if e.present&(1<<i) == 0 {
			continue
		}
		for range 2 {
			_, n := binary.Uvarint(ex)
			ex = ex[n:]
		}
	}
	return ex
}

// Str returns string key k and whether it is non-null. A literal without
// escapes (nearly all of them) is viewed in place.
func (e *Event) Str(k int) (string, bool) {
	lit, ok := e.literal(k)
	if !ok {
		return "", false
	}
	inner := lit[1 : len(lit)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return unsafe.String(unsafe.SliceData(inner), len(inner)), true
	}
	v, err := wire.DecodeJSON(lit)
	if err != nil {
		return "", false // the store checked the payload: not reached
	}
	return v.Str, true
}

// StrEquals compares string key k with s without allocating for literals
// without escapes.
func (e *Event) StrEquals(k int, s string) bool {
	lit, ok := e.literal(k)
	if !ok {
		return false
	}
	inner := lit[1 : len(lit)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == s
	}
	got, _ := e.Str(k)
	return got == s
}

// Generation returns index.generation and whether it is non-null.
func (e *Event) Generation() (int64, bool) {
	if e.present&generationBit == 0 {
		return 0, false
	}
	g, _ := binary.Varint(e.afterStrings())
	return g, true
}

// IndexValue returns index key name as a wire.Value (Null when null), and
// false when name is not an index key.
func (e *Event) IndexValue(name string) (wire.Value, bool) {
	k, ok := keyByName[name]
	if !ok {
		return wire.Value{}, false
	}
	switch k.Kind {
	case priorityKey:
		return wire.IntValue(e.Priority), true
	case timestampKey:
		return wire.FloatValue(e.Timestamp), true
	case generationKey:
		if g, ok := e.Generation(); ok {
			return wire.IntValue(g), true
		}
		return wire.NullValue(), true
	}
	if s, ok := e.Str(k.str); ok {
		return wire.StringValue(s), true
	}
	return wire.NullValue(), true
}

// Renderer renders events of one store. It remembers the last ts and
// topic it rendered: the events of one write share their ts, index.timestamp
// is the ts unless the payload says otherwise, and reads are mostly of one
// topic, so most events cost no float formatting and no string escaping.
type Renderer struct {
	Store string
	Light bool

	lastF     float64
	lastFText []byte
	lastTopic string
	topicJSON []byte // `,"store":"<store>","topic":"<topic>"`
}

func (r *Renderer) float(f float64) []byte {
	if r.lastFText == nil || f != r.lastF || (f == 0 && !sameZero(f, r.lastF)) {
		r.lastF, r.lastFText = f, wire.AppendFloat(r.lastFText[:0], f)
	}
	return r.lastFText
}

func sameZero(a, b float64) bool { return (1/a > 0) == (1/b > 0) }

func (r *Renderer) storeTopic(topic string) []byte {
	if r.topicJSON == nil || topic != r.lastTopic {
		b := append(r.topicJSON[:0], `,"store":`...)
		b = wire.AppendString(b, r.Store)
		b = append(b, `,"topic":`...)
		r.topicJSON, r.lastTopic = wire.AppendString(b, topic), topic
	}
	return r.topicJSON
}

// AppendJSON renders e as docs/PROTOCOL.md describes an event; Light leaves
// the payload out.
func (r *Renderer) AppendJSON(dst []byte, e *Event) []byte {
	var lits [maxStrings][]byte
	gen, hasGen := e.extras(&lits)
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, `,"ts":`...)
	dst = append(dst, r.float(e.TS)...)
	dst = append(dst, r.storeTopic(e.Topic)...)
	dst = append(dst, `,"index":{`...)
	for i := range Keys {
		k := &Keys[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, k.jsonKey...)
		switch k.Kind {
		case priorityKey:
			dst = strconv.AppendInt(dst, e.Priority, 10)
		case timestampKey:
			dst = append(dst, r.float(e.Timestamp)...)
		case generationKey:
			if hasGen {
				dst = strconv.AppendInt(dst, gen, 10)
			} else {
				dst = append(dst, "null"...)
			}
		default:
			if lit := lits[k.str]; lit != nil {
				dst = append(dst, lit...)
			} else {
				dst = append(dst, "null"...)
			}
		}
	}
	dst = append(dst, '}')
	if !r.Light {
		dst = append(dst, `,"payload":`...)
		dst = append(dst, e.Payload()...)
	}
	return append(dst, '}')
}

// JSONSize bounds e's rendered JSON size from above (store and topic names
// escaped at worst), to size buffers once. A msgpack rendering is within
// three times it (a one-byte JSON number can take nine).
func (r *Renderer) JSONSize(e *Event) int {
	n := 300 + 6*(len(r.Store)+len(e.Topic))
	ex := e.data[e.payloadLen:]
	for i := 0; i < numStrings; i++ {
		if e.present&(1<<i) == 0 {
			continue
		}
		_, k := binary.Uvarint(ex)
		l, k2 := binary.Uvarint(ex[k:])
		ex = ex[k+k2:]
		n += int(l)
	}
	if !r.Light {
		n += int(e.payloadLen)
	}
	return n
}

// AppendMsgpack renders e as a msgpack map with the members AppendJSON
// writes, for msgpack replies: a msgpack read renders once, in the
// plugin's encoding, rather than rendering JSON and transcoding it.
func (r *Renderer) AppendMsgpack(dst []byte, e *Event) []byte {
	if r.Light {
		dst = wire.AppendMsgpackMap(dst, 5)
	} else {
		dst = wire.AppendMsgpackMap(dst, 6)
	}
	dst = append(dst, 0xa3, 's', 'e', 'q')
	dst = wire.AppendMsgpackUint(dst, e.Seq)
	dst = append(dst, 0xa2, 't', 's')
	dst = wire.AppendMsgpackFloat(dst, e.TS)
	dst = append(dst, 0xa5, 's', 't', 'o', 'r', 'e')
	dst = wire.AppendMsgpackStr(dst, strBytes(r.Store))
	dst = append(dst, 0xa5, 't', 'o', 'p', 'i', 'c')
	dst = wire.AppendMsgpackStr(dst, strBytes(e.Topic))
	dst = append(dst, 0xa5, 'i', 'n', 'd', 'e', 'x')
	dst = wire.AppendMsgpackMap(dst, len(Keys))
	var lits [maxStrings][]byte
	gen, hasGen := e.extras(&lits)
	for i := range Keys {
		k := &Keys[i]
		dst = wire.AppendMsgpackStr(dst, strBytes(k.Name))
		switch k.Kind {
		case priorityKey:
			dst = wire.AppendMsgpackInt(dst, e.Priority)
		case timestampKey:
			dst = wire.AppendMsgpackFloat(dst, e.Timestamp)
		case generationKey:
			if hasGen {
				dst = wire.AppendMsgpackInt(dst, gen)
			} else {
				dst = append(dst, 0xc0)
			}
		default:
			lit := lits[k.str]
			switch {
			case lit == nil:
				dst = append(dst, 0xc0)
			case bytes.IndexByte(lit, '\\') < 0:
				dst = wire.AppendMsgpackStr(dst, lit[1:len(lit)-1])
			default:
				s, _ := e.Str(k.str)
				dst = wire.AppendMsgpackStr(dst, strBytes(s))
			}
		}
	}
	if !r.Light {
		dst = append(dst, 0xa7, 'p', 'a', 'y', 'l', 'o', 'a', 'd')
		// The store checked the payload when it was written: it transcodes.
		dst, _ = wire.AppendMsgpackFromJSON(dst, e.Payload())
	}
	return dst
}

func strBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
