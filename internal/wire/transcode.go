package wire

import (
	"encoding/binary"
	"math"
)

// AppendMsgpackFromJSON transcodes one JSON value straight to msgpack,
// without building a Value tree: msgpack replies carry the store's event
// JSON (thousands of events for a large read) and decoding each into a tree
// first cost more than the rest of the reply. Objects and arrays are counted
// in a first pass (skip allocates nothing), then written.
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
		n, err := p.count()
		if err != nil {
			return dst, err
		}
		if c == '{' {
			dst = appendMapHeader(dst, n)
		} else {
			dst = appendArrayHeader(dst, n)
		}
		p.i++ // past the opening bracket; count checked the structure
		for k := 0; k < n; k++ {
			p.skipWS()
			if c == '{' {
				s, err := p.strBytes()
				if err != nil {
					return dst, err
				}
				dst = appendMsgpackString(dst, s)
				p.skipWS()
				p.i++ // ':'
				p.skipWS()
			}
			if dst, err = p.transcode(dst, depth+1); err != nil {
				return dst, err
			}
			p.skipWS()
			p.i++ // ',' or the closing bracket
		}
		if n == 0 {
			p.skipWS()
			p.i++
		}
		return dst, nil
	case c == '"':
		s, err := p.strBytes()
		return appendMsgpackString(dst, s), err
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
		return appendMsgpackInt(dst, v.Int), nil
	case Uint:
		dst = append(dst, 0xcf)
		return binary.BigEndian.AppendUint64(dst, v.Uint), nil
	case BigInt:
		return appendMsgpackFloat(dst, parseBigFloat(v.Str)), nil
	}
	return appendMsgpackFloat(dst, v.Float), nil
}

// count returns the members of the object or elements of the array at p.i,
// checking its structure, without moving p.
func (p *jsonParser) count() (int, error) {
	q := jsonParser{b: p.b, i: p.i}
	open := q.b[q.i]
	q.i++
	q.skipWS()
	closing := byte('}')
	if open == '[' {
		closing = ']'
	}
	if q.i < len(q.b) && q.b[q.i] == closing {
		return 0, nil
	}
	n := 0
	for {
		q.skipWS()
		if open == '{' {
			if err := q.skipMemberKey(); err != nil {
				return 0, err
			}
		}
		if err := q.skip(1); err != nil {
			return 0, err
		}
		n++
		q.skipWS()
		if q.i >= len(q.b) {
			return 0, ErrSyntax
		}
		if q.b[q.i] == ',' {
			q.i++
			continue
		}
		if q.b[q.i] != closing {
			return 0, ErrSyntax
		}
		return n, nil
	}
}

func appendMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
}

func appendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
}

func appendMsgpackString(dst []byte, s []byte) []byte {
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

func appendMsgpackInt(dst []byte, i int64) []byte {
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

func appendMsgpackFloat(dst []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(f))
}
