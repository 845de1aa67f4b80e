package wire

import (
	"encoding/binary"
	"math"
)

// AppendMsgpackFromJSON transcodes one JSON value straight to msgpack,
// without building a Value tree: msgpack replies carry the store's event
// JSON (thousands of events for a large read) and decoding each into a tree
// first cost more than the rest of the reply. The input is checked as it is
// read (DecodeJSON accepts exactly what this accepts).
func AppendMsgpackFromJSON(dst, raw []byte) ([]byte, error) {
	p := jsonParser{b: raw}
	p.skipWS()
	dst, err := p.transcode(dst, 0)
	if err != nil {
		return dst, err
	}
	if err := p.end(); err != nil {
		return dst, err
	}
	return dst, nil
}

func (p *jsonParser) transcode(dst []byte, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, ErrDepth
	}
	if p.i >= len(p.b) {
		return dst, ErrSyntax
	}
	switch c := p.b[p.i]; {
	case c == '{' || c == '[':
		return p.transcodeContainer(dst, depth)
	case c == '"':
		s, err := p.strBytes()
		return AppendMsgpackStr(dst, s), err
	case c == 't':
		return append(dst, 0xc3), p.lit("true")
	case c == 'f':
		return append(dst, 0xc2), p.lit("false")
	case c == 'n':
		return append(dst, 0xc0), p.lit("null")
	}
	v, err := p.number()
	if err != nil {
		return dst, err
	}
	switch v.Kind {
	case Int:
		return AppendMsgpackInt(dst, v.Int), nil
	case Uint:
		dst = append(dst, 0xcf)
		return binary.BigEndian.AppendUint64(dst, v.Uint), nil
	case BigInt:
		return AppendMsgpackFloat(dst, parseBigFloat(v.Str)), nil
	}
	return AppendMsgpackFloat(dst, v.Float), nil
}

// transcodeContainer transcodes an object or array in one pass. msgpack
// puts the count first: a one-byte header is reserved and, for the rare
// container of 16 or more, widened afterwards by moving what follows it
// (counting in a first pass cost more than all the rest of a reply).
func (p *jsonParser) transcodeContainer(dst []byte, depth int) ([]byte, error) {
	open := p.b[p.i]
	closing := byte('}')
	if open == '[' {
		closing = ']'
	}
	p.i++
	start := len(dst)
	dst = append(dst, 0)
	n := 0
	p.skipWS()
	if p.i < len(p.b) && p.b[p.i] == closing {
		p.i++
	} else {
		for {
			p.skipWS()
			if open == '{' {
				if p.i >= len(p.b) || p.b[p.i] != '"' {
					return dst, ErrSyntax
				}
				k, err := p.strBytes()
				if err != nil {
					return dst, err
				}
				dst = AppendMsgpackStr(dst, k)
				if err := p.colon(); err != nil {
					return dst, err
				}
			}
			var err error
			if dst, err = p.transcode(dst, depth+1); err != nil {
				return dst, err
			}
			n++
			more, err := p.next(closing)
			if err != nil {
				return dst, err
			}
			if !more {
				break
			}
		}
	}
	var buf [5]byte
	h := appendContainerHeader(buf[:0], n, open == '{')
	if extra := len(h) - 1; extra > 0 {
		dst = append(dst, buf[:extra]...) // room; overwritten by the move
		copy(dst[start+len(h):], dst[start+1:len(dst)-extra])
	}
	copy(dst[start:], h)
	return dst, nil
}

// appendContainerHeader writes a msgpack map or array header for n members
// in the smallest form: fixmap/fixarray, then the 16- and 32-bit forms.
func appendContainerHeader(dst []byte, n int, isMap bool) []byte {
	fix, wide := byte(0x90), byte(0xdc) // array: fixarray, array16 (array32 follows)
	if isMap {
		fix, wide = 0x80, 0xde
	}
	switch {
	case n < 16:
		return append(dst, fix|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, wide), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, wide+1), uint32(n))
}

// AppendMsgpackMap appends a map header for n members, AppendMsgpackArray
// an array header: the smallest form that holds n.
func AppendMsgpackMap(dst []byte, n int) []byte   { return appendContainerHeader(dst, n, true) }
func AppendMsgpackArray(dst []byte, n int) []byte { return appendContainerHeader(dst, n, false) }

// AppendMsgpackStr appends s as a msgpack string.
func AppendMsgpackStr(dst []byte, s []byte) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

// AppendMsgpackInt appends i in its smallest msgpack form.
func AppendMsgpackInt(dst []byte, i int64) []byte {
	switch {
	case i >= 0 && i <= 0x7f:
		return append(dst, byte(i))
	case i < 0 && i >= -32:
		return append(dst, byte(int8(i)))
	case i >= math.MinInt8 && i <= math.MaxInt8:
		return append(dst, 0xd0, byte(int8(i)))
	case i >= math.MinInt16 && i <= math.MaxInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(int16(i)))
	case i >= math.MinInt32 && i <= math.MaxInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(int32(i)))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(i))
}

// AppendMsgpackUint appends u in its smallest msgpack form.
func AppendMsgpackUint(dst []byte, u uint64) []byte {
	if u <= math.MaxInt64 {
		return AppendMsgpackInt(dst, int64(u))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xcf), u)
}

// AppendMsgpackFloat appends f as a msgpack float64 (the protocol's ts and
// timestamp are always float64).
func AppendMsgpackFloat(dst []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(f))
}
