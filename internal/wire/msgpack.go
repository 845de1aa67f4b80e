package wire

import (
	"math"
	"unicode/utf8"
	"unsafe"
)

// DecodeMsgpack decodes one msgpack value (the whole body) into a Value.
// Binary and ext values and maps with non-string keys decode as
// Unrepresentable; invalid UTF-8 strings and NaN/Inf floats are errors.
//
// Decoding reads the body in place (the format is a handful of fixed
// layouts): profiles of the ingest edge showed the library's reader-based
// decoder spending more than half the edge's CPU. The library stays in the
// tests, as the oracle both directions are checked against.
func DecodeMsgpack(b []byte) (Value, error) {
	d := mpDecoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return Value{}, err
	}
	if d.i != len(d.b) {
		return Value{}, ErrSyntax
	}
	return v, nil
}

type mpDecoder struct {
	b    []byte
	i    int
	keep keeping // members left encoded (DecodeKeeping)
}

// take returns the next n bytes.
func (d *mpDecoder) take(n int) ([]byte, bool) {
	if n < 0 || len(d.b)-d.i < n {
		return nil, false
	}
	out := d.b[d.i : d.i+n]
	d.i += n
	return out, true
}

// uint reads a big-endian unsigned integer of n bytes.
func (d *mpDecoder) uint(n int) (uint64, bool) {
	b, ok := d.take(n)
	if !ok {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	return u, true
}

func (d *mpDecoder) value(depth int) (Value, error) {
	if depth > MaxDepth {
		return Value{}, ErrDepth
	}
	if d.i >= len(d.b) {
		return Value{}, ErrSyntax
	}
	c := d.b[d.i]
	d.i++
	switch {
	case c <= 0x7f:
		return IntValue(int64(c)), nil
	case c >= 0xe0:
		return IntValue(int64(int8(c))), nil
	case c >= 0x80 && c <= 0x8f:
		return d.mapOf(int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return d.arrayOf(int(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return d.str(int(c & 0x1f))
	}
	switch c {
	case 0xc0:
		return NullValue(), nil
	case 0xc2:
		return BoolValue(false), nil
	case 0xc3:
		return BoolValue(true), nil
	case 0xc4, 0xc5, 0xc6: // bin 8/16/32
		return d.skipUnrepresentable(1<<(c-0xc4), 0)
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32: length, type, data
		return d.skipUnrepresentable(1<<(c-0xc7), 1)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1..16: type, data
		if _, ok := d.take(1 + 1<<(c-0xd4)); !ok {
			return Value{}, ErrSyntax
		}
		return Value{Kind: Unrepresentable}, nil
	case 0xca, 0xcb:
		var f float64
		if c == 0xca {
			u, ok := d.uint(4)
			if !ok {
				return Value{}, ErrSyntax
			}
			f = float64(math.Float32frombits(uint32(u)))
		} else {
			u, ok := d.uint(8)
			if !ok {
				return Value{}, ErrSyntax
			}
			f = math.Float64frombits(u)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return Value{}, ErrNonFinite
		}
		return FloatValue(f), nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, ok := d.uint(1 << (c - 0xcc))
		if !ok {
			return Value{}, ErrSyntax
		}
		if u > math.MaxInt64 {
			return UintValue(u), nil
		}
		return IntValue(int64(u)), nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		n := 1 << (c - 0xd0)
		u, ok := d.uint(n)
		if !ok {
			return Value{}, ErrSyntax
		}
		shift := 64 - 8*n // sign-extend
		return IntValue(int64(u<<shift) >> shift), nil
	case 0xd9, 0xda, 0xdb:
		n, ok := d.uint(1 << (c - 0xd9))
		if !ok {
			return Value{}, ErrSyntax
		}
		return d.str(int(min(n, math.MaxInt32)))
	case 0xdc, 0xdd:
		n, ok := d.uint(2 << (c - 0xdc))
		if !ok {
			return Value{}, ErrSyntax
		}
		return d.arrayOf(int(min(n, math.MaxInt32)), depth)
	case 0xde, 0xdf:
		n, ok := d.uint(2 << (c - 0xde))
		if !ok {
			return Value{}, ErrSyntax
		}
		return d.mapOf(int(min(n, math.MaxInt32)), depth)
	}
	return Value{}, ErrSyntax // 0xc1 is never used
}

func (d *mpDecoder) skipUnrepresentable(lenBytes, typeBytes int) (Value, error) {
	n, ok := d.uint(lenBytes)
	if !ok {
		return Value{}, ErrSyntax
	}
	if _, ok := d.take(typeBytes + int(min(n, math.MaxInt32))); !ok {
		return Value{}, ErrSyntax
	}
	return Value{Kind: Unrepresentable}, nil
}

func (d *mpDecoder) str(n int) (Value, error) {
	b, ok := d.take(n)
	if !ok {
		return Value{}, ErrSyntax
	}
	if !utf8.Valid(b) {
		return Value{}, ErrUTF8
	}
	return StringValue(string(b)), nil
}

func (d *mpDecoder) arrayOf(n, depth int) (Value, error) {
	// Every element takes at least one byte: never trust a length the body
	// cannot hold.
	if n > len(d.b)-d.i {
		return Value{}, ErrSyntax
	}
	arr := make([]Value, 0, n)
	for range n {
		v, err := d.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		arr = append(arr, v)
	}
	return ArrayValue(arr), nil
}

func (d *mpDecoder) mapOf(n, depth int) (Value, error) {
	if 2*n > len(d.b)-d.i {
		return Value{}, ErrSyntax
	}
	obj := make([]Member, 0, n)
	representable := true
	for range n {
		var k Value
		var err error
		if kb, isStr, serr := d.peekStr(); isStr {
			k, err = StringValue(memberName(kb)), serr
		} else {
			k, err = d.value(depth + 1)
		}
		if err != nil {
			return Value{}, err
		}
		var v Value
		if k.Kind == String && d.keep.keeps(k.Str, depth+1) {
			start := d.i
			err = d.skip(depth + 1)
			v = Value{Kind: Encoded, Enc: Msgpack, Raw: d.b[start:d.i]}
		} else {
			v, err = d.value(depth + 1)
		}
		if err != nil {
			return Value{}, err
		}
		if k.Kind != String {
			representable = false
			continue
		}
		obj = setMember(obj, k.Str, v)
	}
	if !representable {
		return Value{Kind: Unrepresentable}, nil
	}
	return ObjectValue(obj), nil
}

// AppendMsgpack appends v as msgpack. Floats are always float64; integers
// outside the 64-bit range become float64; Raw JSON is transcoded and Raw
// msgpack copied as it is.
func AppendMsgpack(dst []byte, v Value) ([]byte, error) {
	switch v.Kind {
	case Null:
		return append(dst, 0xc0), nil
	case Bool:
		if v.Bool {
			return append(dst, 0xc3), nil
		}
		return append(dst, 0xc2), nil
	case Int:
		return AppendMsgpackInt(dst, v.Int), nil
	case Uint:
		return AppendMsgpackUint(dst, v.Uint), nil
	case BigInt:
		return AppendMsgpackFloat(dst, parseBigFloat(v.Str)), nil
	case Float:
		return AppendMsgpackFloat(dst, v.Float), nil
	case String:
		return AppendMsgpackStr(dst, unsafe.Slice(unsafe.StringData(v.Str), len(v.Str))), nil
	case Array:
		dst = AppendMsgpackArray(dst, len(v.Arr))
		for i := range v.Arr {
			var err error
			if dst, err = AppendMsgpack(dst, v.Arr[i]); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case Object:
		dst = AppendMsgpackMap(dst, len(v.Obj))
		for i := range v.Obj {
			k := v.Obj[i].Key
			dst = AppendMsgpackStr(dst, unsafe.Slice(unsafe.StringData(k), len(k)))
			var err error
			if dst, err = AppendMsgpack(dst, v.Obj[i].Val); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case Encoded:
		tree, err := v.Decoded()
		if err != nil {
			return dst, err
		}
		return AppendMsgpack(dst, tree)
	case Raw:
		if v.Enc == Msgpack {
			return append(dst, v.Raw...), nil
		}
		return AppendMsgpackFromJSON(dst, v.Raw)
	}
	return dst, ErrUnrepresented
}
