package wire

// Encoding is the encoding of a body.
type Encoding uint8

const (
	JSON Encoding = iota
	Msgpack
)

func (e Encoding) String() string {
	if e == Msgpack {
		return "msgpack"
	}
	return "json"
}

// DetectEncoding applies docs/PROTOCOL.md's rule: a body whose first
// non-whitespace byte is '{' is JSON, anything else is msgpack.
func DetectEncoding(body []byte) Encoding {
	for _, c := range body {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return JSON
		}
		return Msgpack
	}
	return Msgpack
}

// Decode decodes a body in its detected encoding.
func Decode(body []byte) (Value, Encoding, error) {
	enc := DetectEncoding(body)
	var v Value
	var err error
	if enc == JSON {
		v, err = DecodeJSON(body)
	} else {
		v, err = DecodeMsgpack(body)
	}
	return v, enc, err
}

// Encode appends v in the given encoding.
func Encode(dst []byte, v Value, enc Encoding) ([]byte, error) {
	if enc == Msgpack {
		return AppendMsgpack(dst, v)
	}
	return AppendJSON(dst, v)
}

// EncodePayload turns a decoded payload into its stored form: compact JSON of
// an object, a non-object x wrapped as {"value": x}.
func EncodePayload(dst []byte, v Value) ([]byte, error) {
	if v.Kind != Object && (v.Kind != Encoded || !v.encodedObject()) {
		v = ObjectValue([]Member{{Key: "value", Val: v}})
	}
	return AppendJSON(dst, v)
}

// SizeHint estimates v's encoded size, so a reply buffer is allocated once
// instead of growing (and copying) its way to multi-megabyte reads.
func SizeHint(v Value) int {
	switch v.Kind {
	case String, BigInt:
		return len(v.Str) + 8
	case Raw, Encoded:
		return len(v.Raw)
	case Array:
		n := 2
		for i := range v.Arr {
			n += SizeHint(v.Arr[i]) + 1
		}
		return n
	case Object:
		n := 2
		for i := range v.Obj {
			n += len(v.Obj[i].Key) + 4 + SizeHint(v.Obj[i].Val)
		}
		return n
	}
	return 24
}
