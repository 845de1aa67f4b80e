package wire

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends v as compact JSON in the canonical form of docs/PROTOCOL.md
// "Payload JSON": keys in their order, no insignificant whitespace, non-ASCII
// unescaped, only what JSON requires escaped, floats always with a fraction
// or exponent. Unrepresentable values are an error.
func AppendJSON(dst []byte, v Value) ([]byte, error) {
	switch v.Kind {
	case Null:
		return append(dst, "null"...), nil
	case Bool:
		if v.Bool {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case Int:
		return strconv.AppendInt(dst, v.Int, 10), nil
	case Uint:
		return strconv.AppendUint(dst, v.Uint, 10), nil
	case BigInt:
		return append(dst, v.Str...), nil
	case Float:
		if math.IsInf(v.Float, 0) || math.IsNaN(v.Float) {
			return dst, ErrNonFinite
		}
		return AppendFloat(dst, v.Float), nil
	case String:
		return AppendString(dst, v.Str), nil
	case Raw:
		if v.Enc == Msgpack {
			d := mpDecoder{b: v.Raw}
			return d.toJSON(dst, 0)
		}
		return append(dst, v.Raw...), nil
	case Encoded:
		return appendEncodedJSON(dst, v)
	case Array:
		dst = append(dst, '[')
		for i := range v.Arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = AppendJSON(dst, v.Arr[i]); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case Object:
		dst = append(dst, '{')
		for i := range v.Obj {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, v.Obj[i].Key)
			dst = append(dst, ':')
			var err error
			if dst, err = AppendJSON(dst, v.Obj[i].Val); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return dst, ErrUnrepresented
}

// AppendFloat formats a finite float as Python's repr does (shortest
// round-trip digits, exponent below 1e-4 and from 1e16 on, ".0" when whole),
// so whole values stay recognisably floats.
func AppendFloat(dst []byte, f float64) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	abs := math.Abs(f)
	if abs < 1e-4 || abs >= 1e16 {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	if i := int64(f); float64(i) == f {
		// A whole number (a timestamp sent as an integer): its digits.
		return append(strconv.AppendInt(dst, i, 10), ".0"...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaping only what JSON requires.
// Invalid UTF-8 (never produced by the decoders) becomes U+FFFD.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\ufffd"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
