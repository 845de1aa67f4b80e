// Package wire is the value model and codecs of the public protocol: bodies
// arrive as JSON or msgpack, are decoded into an ordered Value (object keys
// keep the order the client sent), and are encoded back as compact JSON
// (docs/PROTOCOL.md "Payload JSON") or msgpack.
package wire

import (
	"errors"
	"math"
	"strings"
)

// Kind is the type of a Value.
type Kind uint8

const (
	Null Kind = iota
	Bool
	Int    // fits in int64
	Uint   // above the int64 range, fits in uint64
	BigInt // outside the 64-bit range: Str holds its decimal digits
	Float  // finite float64
	String
	Array
	Object
	// Raw is already-encoded bytes (Raw field) in the encoding Enc says,
	// spliced into output of that encoding as they are; used for the events
	// the store renders.
	Raw
	// Unrepresentable is a msgpack value JSON cannot carry: binary, ext, or
	// a map with a non-string key. It decodes, and fails where it is used.
	Unrepresentable
	// Encoded is a checked value still in its wire encoding (Raw, in Enc),
	// left so by DecodeKeeping; encoding it as JSON transcodes it directly.
	Encoded
)

// Value is one decoded JSON/msgpack value.
type Value struct {
	Kind  Kind
	Enc   Encoding // of an Encoded value
	Bool  bool
	Int   int64
	Uint  uint64
	Float float64
	Str   string
	Arr   []Value
	Obj   []Member
	Raw   []byte
}

// Member is one key of an object, in the order it was sent.
type Member struct {
	Key string
	Val Value
}

// MaxDepth bounds nesting so hostile bodies cannot exhaust the stack.
const MaxDepth = 512

var (
	ErrSyntax        = errors.New("malformed body")
	ErrDepth         = errors.New("nesting too deep")
	ErrUTF8          = errors.New("invalid UTF-8")
	ErrNonFinite     = errors.New("non-finite number")
	ErrUnrepresented = errors.New("value not representable in JSON")
)

// Convenience constructors.
func NullValue() Value             { return Value{Kind: Null} }
func BoolValue(b bool) Value       { return Value{Kind: Bool, Bool: b} }
func IntValue(i int64) Value       { return Value{Kind: Int, Int: i} }
func UintValue(u uint64) Value     { return Value{Kind: Uint, Uint: u} }
func FloatValue(f float64) Value   { return Value{Kind: Float, Float: f} }
func StringValue(s string) Value   { return Value{Kind: String, Str: s} }
func ArrayValue(a []Value) Value   { return Value{Kind: Array, Arr: a} }
func ObjectValue(m []Member) Value { return Value{Kind: Object, Obj: m} }
func RawValue(b []byte) Value      { return Value{Kind: Raw, Raw: b} }

// RawIn is already-encoded bytes in enc.
func RawIn(b []byte, enc Encoding) Value { return Value{Kind: Raw, Raw: b, Enc: enc} }

// StringsValue is an array of strings.
func StringsValue(ss []string) Value {
	a := make([]Value, len(ss))
	for i, s := range ss {
		a[i] = StringValue(s)
	}
	return ArrayValue(a)
}

// Get returns an object's member by key.
func (v Value) Get(key string) (Value, bool) {
	if v.Kind != Object {
		return Value{}, false
	}
	for i := range v.Obj {
		if v.Obj[i].Key == key {
			return v.Obj[i].Val, true
		}
	}
	return Value{}, false
}

// IsNumber reports whether v is a number of any kind.
func (v Value) IsNumber() bool {
	switch v.Kind {
	case Int, Uint, BigInt, Float:
		return true
	}
	return false
}

// AsFloat returns a number as float64 (BigInt approximately).
func (v Value) AsFloat() (float64, bool) {
	switch v.Kind {
	case Int:
		return float64(v.Int), true
	case Uint:
		return float64(v.Uint), true
	case Float:
		return v.Float, true
	case BigInt:
		return parseBigFloat(v.Str), true
	}
	return 0, false
}

// AsInt returns an integral number as int64: ints, and floats with no
// fraction (5.0 is 5). An integer beyond the 64-bit range (2**64, or the
// integral float 1e300) is still an integer: it saturates at the nearest
// int64 bound, so "at least 1" and "clamped to a maximum" hold for it.
// Booleans are never integers.
func (v Value) AsInt() (int64, bool) {
	switch v.Kind {
	case Int:
		return v.Int, true
	case Uint:
		return math.MaxInt64, true
	case BigInt:
		if strings.HasPrefix(v.Str, "-") {
			return math.MinInt64, true
		}
		return math.MaxInt64, true
	case Float:
		f := v.Float
		if math.Trunc(f) != f || math.IsInf(f, 0) {
			return 0, false
		}
		switch {
		case f >= 9.223372036854775808e18:
			return math.MaxInt64, true
		case f < -9.223372036854775808e18:
			return math.MinInt64, true
		}
		return int64(f), true
	}
	return 0, false
}

// set adds or replaces a member: a repeated key keeps its first position and
// its last value, as Python's json module does.
func setMember(obj []Member, key string, val Value) []Member {
	for i := range obj {
		if obj[i].Key == key {
			obj[i].Val = val
			return obj
		}
	}
	return append(obj, Member{Key: key, Val: val})
}

// memberName returns an object member's name as a string. The protocol's
// own names are constants rather than an allocation each: an ingest batch
// repeats store, topic and payload in every item.
func memberName(b []byte) string {
	switch string(b) {
	case "v":
		return "v"
	case "req_id":
		return "req_id"
	case "op":
		return "op"
	case "args":
		return "args"
	case "store":
		return "store"
	case "topic":
		return "topic"
	case "payload":
		return "payload"
	case "kind":
		return "kind"
	case "items":
		return "items"
	case "limit":
		return "limit"
	case "mode":
		return "mode"
	}
	return string(b)
}
