package wire

import (
	"bytes"
	"math"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// DecodeMsgpack decodes one msgpack value (the whole body) into a Value.
// Binary and ext values and maps with non-string keys decode as
// Unrepresentable; invalid UTF-8 strings and NaN/Inf floats are errors.
func DecodeMsgpack(b []byte) (Value, error) {
	// bytes.Reader is a ByteScanner, so the decoder reads it directly and
	// r.Len() is exactly what is left of the body.
	r := bytes.NewReader(b)
	d := msgpack.NewDecoder(r)
	v, err := decodeMsgpackValue(d, r, 0)
	if err != nil {
		return Value{}, err
	}
	if r.Len() != 0 {
		return Value{}, ErrSyntax
	}
	return v, nil
}

func decodeMsgpackValue(d *msgpack.Decoder, r *bytes.Reader, depth int) (Value, error) {
	if depth > MaxDepth {
		return Value{}, ErrDepth
	}
	c, err := d.PeekCode()
	if err != nil {
		return Value{}, ErrSyntax
	}
	switch {
	case c == msgpcode.Nil:
		if err := d.DecodeNil(); err != nil {
			return Value{}, ErrSyntax
		}
		return NullValue(), nil
	case c == msgpcode.True || c == msgpcode.False:
		b, err := d.DecodeBool()
		if err != nil {
			return Value{}, ErrSyntax
		}
		return BoolValue(b), nil
	case c == msgpcode.Float || c == msgpcode.Double:
		f, err := d.DecodeFloat64()
		if err != nil {
			return Value{}, ErrSyntax
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return Value{}, ErrNonFinite
		}
		return FloatValue(f), nil
	case c == msgpcode.Uint64:
		u, err := d.DecodeUint64()
		if err != nil {
			return Value{}, ErrSyntax
		}
		if u > math.MaxInt64 {
			return UintValue(u), nil
		}
		return IntValue(int64(u)), nil
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
		i, err := d.DecodeInt64()
		if err != nil {
			return Value{}, ErrSyntax
		}
		return IntValue(i), nil
	case msgpcode.IsString(c):
		s, err := d.DecodeString()
		if err != nil {
			return Value{}, ErrSyntax
		}
		if !utf8.ValidString(s) {
			return Value{}, ErrUTF8
		}
		return StringValue(s), nil
	case msgpcode.IsBin(c) || msgpcode.IsExt(c):
		if err := d.Skip(); err != nil {
			return Value{}, ErrSyntax
		}
		return Value{Kind: Unrepresentable}, nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil || n < 0 {
			return Value{}, ErrSyntax
		}
		// Every element takes at least one byte: never trust a length the
		// body cannot hold.
		if n > r.Len() {
			return Value{}, ErrSyntax
		}
		arr := make([]Value, 0, n)
		for range n {
			v, err := decodeMsgpackValue(d, r, depth+1)
			if err != nil {
				return Value{}, err
			}
			arr = append(arr, v)
		}
		return ArrayValue(arr), nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil || n < 0 {
			return Value{}, ErrSyntax
		}
		if 2*n > r.Len() {
			return Value{}, ErrSyntax
		}
		obj := make([]Member, 0, n)
		representable := true
		for range n {
			k, err := decodeMsgpackValue(d, r, depth+1)
			if err != nil {
				return Value{}, err
			}
			v, err := decodeMsgpackValue(d, r, depth+1)
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
	return Value{}, ErrSyntax
}

// AppendMsgpack appends v as msgpack. Floats are always float64; integers
// outside the 64-bit range become float64; Raw JSON is decoded and
// re-encoded as a map.
func AppendMsgpack(dst []byte, v Value) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	e := msgpack.NewEncoder(buf)
	if err := encodeMsgpack(e, v); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

func encodeMsgpack(e *msgpack.Encoder, v Value) error {
	switch v.Kind {
	case Null:
		return e.EncodeNil()
	case Bool:
		return e.EncodeBool(v.Bool)
	case Int:
		return e.EncodeInt(v.Int)
	case Uint:
		return e.EncodeUint(v.Uint)
	case BigInt:
		return e.EncodeFloat64(parseBigFloat(v.Str))
	case Float:
		return e.EncodeFloat64(v.Float)
	case String:
		return e.EncodeString(v.Str)
	case Array:
		if err := e.EncodeArrayLen(len(v.Arr)); err != nil {
			return err
		}
		for i := range v.Arr {
			if err := encodeMsgpack(e, v.Arr[i]); err != nil {
				return err
			}
		}
		return nil
	case Object:
		if err := e.EncodeMapLen(len(v.Obj)); err != nil {
			return err
		}
		for i := range v.Obj {
			if err := e.EncodeString(v.Obj[i].Key); err != nil {
				return err
			}
			if err := encodeMsgpack(e, v.Obj[i].Val); err != nil {
				return err
			}
		}
		return nil
	case Raw:
		inner, err := DecodeJSON(v.Raw)
		if err != nil {
			return err
		}
		return encodeMsgpack(e, inner)
	}
	return ErrUnrepresented
}
