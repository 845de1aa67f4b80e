package event

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/messageplane/mp/internal/wire"
)

// Draft is an event before the store accepts it: its index is extracted
// and its bytes are ready, seq and ts are not. Building it needs no lock.
type Draft struct {
	payload      []byte
	extras       []byte
	fields       Fields
	timestampSet bool // false: index.timestamp is the event ts
}

// NewDraft checks a payload (compact JSON of an object, as the edges send
// it) and extracts its index. Only the index keys' values are decoded; the
// rest is checked and skipped, since most of a payload is text the index
// never reads. The draft refers to payload, which must not change.
func NewDraft(payload []byte) (*Draft, error) {
	var raws [maxSources][]byte // by sourceIndex: the last literal of each source key
	err := wire.ScanObject(payload, func(k, raw []byte) {
		if i, ok := sourceIndex[string(k)]; ok {
			raws[i] = raw
		}
	})
	if err != nil {
		return nil, errNotObject
	}
	d := &Draft{payload: payload}
	d.fields.PayloadLen = uint32(len(payload))
	var refs [maxStrings][]byte
	var gen int64
	for _, k := range Keys {
		switch k.Kind {
		case stringKey, nonEmptyKey:
			for _, path := range k.Sources {
				lit := sourceLiteral(raws[:], path)
				if isString(lit) && (k.Kind == stringKey || len(lit) > 2) {
					refs[k.str] = lit
					d.fields.Present |= 1 << k.str
					break
				}
			}
		case priorityKey:
			v, _ := indexValue(raws[sourceIndex[k.Sources[0][0]]])
			d.fields.Priority = Priority(v)
		case timestampKey:
			x := raws[sourceIndex[k.Sources[0][0]]]
			if x == nil || string(x) == "null" {
				x = raws[sourceIndex[k.Sources[1][0]]]
			}
			if x != nil {
				v, _ := indexValue(x)
				d.fields.Timestamp, d.timestampSet = timestampValue(v)
			}
		case generationKey:
			if raw := raws[sourceIndex[k.Sources[0][0]]]; raw != nil {
				v, _ := indexValue(raw)
				if g, ok := Generation(v); ok {
					d.fields.Present |= generationBit
					gen = g
				}
			}
		}
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(payload)))
	for k, lit := range refs {
		if d.fields.Present&(1<<k) != 0 {
			off := uintptr(unsafe.Pointer(unsafe.SliceData(lit))) - base
			d.extras = binary.AppendUvarint(d.extras, uint64(off))
			d.extras = binary.AppendUvarint(d.extras, uint64(len(lit)))
		}
	}
	if d.fields.Present&generationBit != 0 {
		d.extras = binary.AppendVarint(d.extras, gen)
	}
	return d, nil
}

// sourceLiteral returns the literal at path: a top-level key's, or a key
// of the object a top-level key holds (its last occurrence).
func sourceLiteral(raws [][]byte, path []string) []byte {
	lit := raws[sourceIndex[path[0]]]
	for _, name := range path[1:] {
		if len(lit) == 0 || lit[0] != '{' {
			return nil
		}
		var inner []byte
		_ = wire.ScanObject(lit, func(k, raw []byte) {
			if string(k) == name {
				inner = raw
			}
		})
		lit = inner
	}
	return lit
}

func isString(lit []byte) bool { return len(lit) >= 2 && lit[0] == '"' }

// Size is the draft's bytes, as the store keeps them.
func (d *Draft) Size() int { return len(d.payload) + len(d.extras) }

// AppendTo appends the event's bytes: the payload, then the extras.
func (d *Draft) AppendTo(dst []byte) []byte {
	return append(append(dst, d.payload...), d.extras...)
}

// Fields returns the event's fixed fields once it has a seq and a ts.
func (d *Draft) Fields(seq uint64, ts float64) Fields {
	f := d.fields
	f.Seq, f.TS = seq, ts
	if !d.timestampSet {
		f.Timestamp = ts
	}
	return f
}

// indexValue decodes one index value that ScanObject has checked. A string
// without escapes is viewed in place rather than copied (the view does not
// outlive NewDraft).
func indexValue(raw []byte) (wire.Value, error) {
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		if len(raw) == 2 {
			return wire.StringValue(""), nil
		}
		return wire.StringValue(unsafe.String(&raw[1], len(raw)-2)), nil
	}
	return wire.DecodeJSON(raw)
}

type draftError string

func (e draftError) Error() string { return string(e) }

const errNotObject = draftError("payload is not a JSON object")

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

// timestampValue implements index.timestamp for the value found (payload
// "timestamp" when present and not null, else "time"): a finite number or
// a decimal string gives its value; anything else gives the event ts
// (false), without falling through to "time".
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
