package wire

import (
	"math"
	"unsafe"
)

// DecodeKeeping decodes a body like Decode, except that the values of
// members named key at nesting depth depth (the body is depth 0) stay in
// their wire encoding as Encoded values: checked as strictly as the rest
// (a body DecodeKeeping accepts is one Decode accepts), never built into a
// tree. Payloads are the bulk of a publish or an ingest item and are only
// ever turned into payload JSON: building their tree first cost the edges
// a quarter of their CPU (profiled at 8 clients x 64 in flight, and on
// msgpack ingest batches).
func DecodeKeeping(body []byte, key string, depth int) (Value, Encoding, error) {
	enc := DetectEncoding(body)
	keep := keeping{key: key, depth: depth}
	var v Value
	var err error
	if enc == JSON {
		p := jsonParser{b: body, keep: keep}
		p.skipWS()
		if v, err = p.value(0); err == nil {
			err = p.end()
		}
	} else {
		d := mpDecoder{b: body, keep: keep}
		if v, err = d.value(0); err == nil && d.i != len(d.b) {
			err = ErrSyntax
		}
	}
	if err != nil {
		return Value{}, enc, err
	}
	return v, enc, nil
}

// keeping names the members a decoder leaves encoded; the zero value
// keeps none.
type keeping struct {
	key   string
	depth int
}

func (k keeping) keeps(key string, depth int) bool {
	return k.key != "" && depth == k.depth && key == k.key
}

// appendEncodedJSON appends an Encoded value as canonical JSON, exactly as
// AppendJSON of its decoded tree would, transcoding in one pass. Objects
// with repeated keys (rare, and resolved by position) and JSON keys with
// escapes take the tree path.
func appendEncodedJSON(dst []byte, v Value) ([]byte, error) {
	start := len(dst)
	var out []byte
	var err error
	if v.Enc == JSON {
		p := jsonParser{b: v.Raw}
		out, err = p.canonical(dst, 0)
	} else {
		d := mpDecoder{b: v.Raw}
		out, err = d.toJSON(dst, 0)
	}
	if err != errSlowPath {
		return out, err
	}
	tree, err := v.Decoded()
	if err != nil {
		return dst[:start], err
	}
	return AppendJSON(dst[:start], tree)
}

// Decoded returns an Encoded value's tree (other values as they are).
func (v Value) Decoded() (Value, error) {
	if v.Kind != Encoded {
		return v, nil
	}
	if v.Enc == JSON {
		return DecodeJSON(v.Raw)
	}
	return DecodeMsgpack(v.Raw)
}

// encodedObject reports whether an Encoded value is an object (a msgpack
// map with a non-string key is not; it fails when encoded either way).
func (v Value) encodedObject() bool {
	if len(v.Raw) == 0 {
		return false
	}
	c := v.Raw[0]
	if v.Enc == JSON {
		return c == '{'
	}
	return c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf
}

// errSlowPath sends a transcoder back to the tree path.
var errSlowPath = &slowPath{}

type slowPath struct{}

func (*slowPath) Error() string { return "take the tree path" }

// maxFastKeys bounds the keys an object may have on the one-pass path
// (repeated keys are found by comparing with the earlier ones).
const maxFastKeys = 32

// seen reports whether key is among keys; keys is the current object's.
func seen(keys [][]byte, key []byte) bool {
	for _, k := range keys {
		if string(k) == string(key) {
			return true
		}
	}
	return false
}

// appendStringBytes is AppendString for bytes already checked as UTF-8;
// the string view lives only for the call.
func appendStringBytes(dst, b []byte) []byte {
	if len(b) == 0 {
		return append(dst, `""`...)
	}
	return AppendString(dst, unsafe.String(&b[0], len(b)))
}

// canonical re-emits one checked JSON value in canonical form.
func (p *jsonParser) canonical(dst []byte, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, ErrDepth
	}
	if p.i >= len(p.b) {
		return dst, ErrSyntax
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		dst = append(dst, '{')
		var keysBuf [8][]byte
		keys := keysBuf[:0]
		p.skipWS()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return append(dst, '}'), nil
		}
		for {
			p.skipWS()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return dst, ErrSyntax
			}
			// A key without escapes is its own bytes: compared and written
			// as they are.
			end := p.i + 1
			for end < len(p.b) && p.b[end] != '"' && p.b[end] != '\\' && p.b[end] >= 0x20 {
				end++
			}
			if end >= len(p.b) || p.b[end] != '"' || len(keys) == maxFastKeys {
				return dst, errSlowPath
			}
			key := p.b[p.i+1 : end]
			if seen(keys, key) {
				return dst, errSlowPath
			}
			keys = append(keys, key)
			if len(keys) > 1 {
				dst = append(dst, ',')
			}
			if err := p.skipString(); err != nil {
				return dst, err
			}
			if err := p.colon(); err != nil {
				return dst, err
			}
			dst = appendStringBytes(dst, key)
			dst = append(dst, ':')
			var err error
			if dst, err = p.canonical(dst, depth+1); err != nil {
				return dst, err
			}
			if more, err := p.next('}'); !more {
				return append(dst, '}'), err
			}
		}
	case c == '[':
		p.i++
		dst = append(dst, '[')
		p.skipWS()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return append(dst, ']'), nil
		}
		for n := 0; ; n++ {
			if n > 0 {
				dst = append(dst, ',')
			}
			p.skipWS()
			var err error
			if dst, err = p.canonical(dst, depth+1); err != nil {
				return dst, err
			}
			if more, err := p.next(']'); !more {
				return append(dst, ']'), err
			}
		}
	case c == '"':
		s, err := p.strBytes()
		if err != nil {
			return dst, err
		}
		return appendStringBytes(dst, s), nil
	}
	// Literals and numbers: the scalar decoders allocate nothing worth
	// avoiding.
	v, err := p.value(depth)
	if err != nil {
		return dst, err
	}
	return AppendJSON(dst, v)
}

// toJSON transcodes one checked msgpack value to canonical JSON.
func (d *mpDecoder) toJSON(dst []byte, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, ErrDepth
	}
	if d.i >= len(d.b) {
		return dst, ErrSyntax
	}
	c := d.b[d.i]
	var n int
	switch {
	case c >= 0x80 && c <= 0x8f:
		d.i++
		n = int(c & 0x0f)
	case c == 0xde || c == 0xdf:
		d.i++
		u, ok := d.uint(2 << (c - 0xde))
		if !ok {
			return dst, ErrSyntax
		}
		n = int(min(u, math.MaxInt32))
	case c >= 0x90 && c <= 0x9f, c == 0xdc, c == 0xdd:
		d.i++
		if c <= 0x9f {
			n = int(c & 0x0f)
		} else {
			u, ok := d.uint(2 << (c - 0xdc))
			if !ok {
				return dst, ErrSyntax
			}
			n = int(min(u, math.MaxInt32))
		}
		if n > len(d.b)-d.i {
			return dst, ErrSyntax
		}
		dst = append(dst, '[')
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = d.toJSON(dst, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	default:
		if s, ok, err := d.strBytes(); ok || err != nil {
			if err != nil {
				return dst, err
			}
			return appendStringBytes(dst, s), nil
		}
		v, err := d.value(depth) // scalars allocate nothing
		if err != nil {
			return dst, err
		}
		return AppendJSON(dst, v)
	}
	// A map.
	if 2*n > len(d.b)-d.i {
		return dst, ErrSyntax
	}
	if n > maxFastKeys {
		return dst, errSlowPath
	}
	var keysBuf [8][]byte
	keys := keysBuf[:0]
	dst = append(dst, '{')
	for i := range n {
		key, ok, err := d.strBytes()
		if err != nil {
			return dst, err
		}
		if !ok {
			return dst, ErrUnrepresented // a non-string key
		}
		if seen(keys, key) {
			return dst, errSlowPath
		}
		keys = append(keys, key)
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendStringBytes(dst, key)
		dst = append(dst, ':')
		if dst, err = d.toJSON(dst, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// peekStr is strBytes at any position, the end of the body included.
func (d *mpDecoder) peekStr() (b []byte, ok bool, err error) {
	if d.i >= len(d.b) {
		return nil, false, nil
	}
	return d.strBytes()
}

// strBytes reads a string if one is next (ok false, nothing read, if not).
func (d *mpDecoder) strBytes() (b []byte, ok bool, err error) {
	c := d.b[d.i]
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		d.i++
		n = uint64(c & 0x1f)
	case c >= 0xd9 && c <= 0xdb:
		d.i++
		if n, ok = d.uint(1 << (c - 0xd9)); !ok {
			return nil, true, ErrSyntax
		}
	default:
		return nil, false, nil
	}
	b, ok = d.take(int(min(n, math.MaxInt32)))
	if !ok {
		return nil, true, ErrSyntax
	}
	if !validUTF8(b) {
		return nil, true, ErrUTF8
	}
	return b, true, nil
}

// skip passes over one msgpack value, checking it as value would, without
// building it.
func (d *mpDecoder) skip(depth int) error {
	if depth > MaxDepth {
		return ErrDepth
	}
	if d.i >= len(d.b) {
		return ErrSyntax
	}
	c := d.b[d.i]
	var n uint64
	var ok bool
	switch {
	case c >= 0x80 && c <= 0x8f, c == 0xde, c == 0xdf: // maps
		d.i++
		n = uint64(c & 0x0f)
		if c >= 0xde {
			if n, ok = d.uint(2 << (c - 0xde)); !ok {
				return ErrSyntax
			}
		}
		if n > uint64(len(d.b)-d.i)/2 {
			return ErrSyntax
		}
		for range 2 * n {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case c >= 0x90 && c <= 0x9f, c == 0xdc, c == 0xdd: // arrays
		d.i++
		n = uint64(c & 0x0f)
		if c >= 0xdc {
			if n, ok = d.uint(2 << (c - 0xdc)); !ok {
				return ErrSyntax
			}
		}
		if n > uint64(len(d.b)-d.i) {
			return ErrSyntax
		}
		for range n {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	}
	if _, isStr, err := d.strBytes(); isStr || err != nil {
		return err
	}
	_, err := d.value(depth) // a scalar, bin or ext: nothing to build
	return err
}
