package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// request is the RPC envelope (docs/PROTOCOL.md, "Request envelope").
type request struct {
	V     int    `json:"v"`
	ReqID string `json:"req_id"`
	Op    string `json:"op"`
	Args  any    `json:"args,omitempty"`
}

// encodeRequest encodes an envelope. json.RawMessage arguments keep their
// text (and so their key order) in JSON and are transcoded, order kept, to
// msgpack.
func encodeRequest(enc Encoding, id, op string, args any) ([]byte, error) {
	req := request{V: 1, ReqID: id, Op: op, Args: args}
	if enc != Msgpack {
		return json.Marshal(req)
	}
	req.Args = forMsgpack(args)
	return marshalMsgpack(req)
}

// marshalMsgpack encodes v with encoding/json's field names and omitempty.
func marshalMsgpack(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	e.SetCustomStructTag("json")
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// forMsgpack prepares v for msgpack so that it means what encoding/json
// makes of it: maps and slices are walked, json.RawMessage and every other
// composite value (structs with json tags, json.Marshaler, ...) go through
// encoding/json and are transcoded with their key order kept. (msgpack
// would otherwise send a json.RawMessage as binary, which the server
// refuses.)
func forMsgpack(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int, int64, int32, uint, uint64, uint32, float64, float32:
		return v
	case json.RawMessage:
		return rawJSON(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = forMsgpack(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = forMsgpack(e)
		}
		return s
	}
	js, err := json.Marshal(v)
	if err != nil {
		return failing{err}
	}
	return rawJSON(js)
}

// failing carries an encoding error to the msgpack encoder.
type failing struct{ err error }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (f failing) EncodeMsgpack(*msgpack.Encoder) error { return f.err }

// rawJSON is JSON text that encodes to msgpack with its key order kept.
type rawJSON []byte

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r rawJSON) EncodeMsgpack(e *msgpack.Encoder) error {
	d := json.NewDecoder(bytes.NewReader(r))
	d.UseNumber()
	v, err := readOrdered(d)
	if err != nil {
		return fmt.Errorf("JSON value: %w", err)
	}
	if _, err := d.Token(); err == nil {
		return errors.New("JSON value: trailing data")
	}
	return e.Encode(v)
}

// member is one key of a JSON object read in order.
type member struct {
	key string
	val any
}

// object is a JSON object whose members keep their order in msgpack.
type object []member

// EncodeMsgpack implements msgpack.CustomEncoder.
func (o object) EncodeMsgpack(e *msgpack.Encoder) error {
	if err := e.EncodeMapLen(len(o)); err != nil {
		return err
	}
	for _, m := range o {
		if err := e.EncodeString(m.key); err != nil {
			return err
		}
		if err := e.Encode(m.val); err != nil {
			return err
		}
	}
	return nil
}

// number is a JSON number: an integer when its literal is one, else a float.
type number json.Number

// EncodeMsgpack implements msgpack.CustomEncoder.
func (n number) EncodeMsgpack(e *msgpack.Encoder) error {
	s := string(n)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return e.EncodeInt(i)
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return e.EncodeUint(u)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	return e.EncodeFloat64(f)
}

// readOrdered reads one JSON value into object / []any / number / string /
// bool / nil.
func readOrdered(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			var list []any
			for d.More() {
				v, err := readOrdered(d)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := d.Token()
			return list, err
		}
		obj := object{}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return nil, err
			}
			v, err := readOrdered(d)
			if err != nil {
				return nil, err
			}
			obj = append(obj, member{k.(string), v})
		}
		_, err := d.Token()
		return obj, err
	case json.Number:
		return number(t), nil
	}
	return tok, nil // string, bool or nil
}

// decodeReply reads a reply in either encoding into a Reply whose Result
// is JSON.
func decodeReply(body []byte) (*Reply, error) {
	js := body
	if !isJSON(body) {
		var err error
		if js, err = msgpackToJSON(body); err != nil {
			return nil, err
		}
	}
	r := &Reply{Raw: body}
	if err := json.Unmarshal(js, r); err != nil {
		return nil, fmt.Errorf("reply: %w", err)
	}
	return r, nil
}

// isJSON applies the server's rule: a body whose first non-whitespace byte
// is '{' is JSON, anything else is msgpack.
func isJSON(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// maxDepth bounds nesting so a hostile body cannot exhaust the stack.
const maxDepth = 512

// msgpackToJSON converts one msgpack value to JSON, keeping map order.
// Binary, ext and non-string map keys have no JSON form and are errors.
func msgpackToJSON(b []byte) ([]byte, error) {
	d := msgpack.NewDecoder(bytes.NewReader(b))
	out, err := appendJSON(nil, d, 0)
	if err != nil {
		return nil, fmt.Errorf("msgpack: %w", err)
	}
	return out, nil
}

func appendJSON(dst []byte, d *msgpack.Decoder, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deeply")
	}
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case c == msgpcode.Nil:
		return append(dst, "null"...), d.DecodeNil()
	case c == msgpcode.True || c == msgpcode.False:
		v, err := d.DecodeBool()
		return strconv.AppendBool(dst, v), err
	case c == msgpcode.Uint64:
		v, err := d.DecodeUint64()
		return strconv.AppendUint(dst, v, 10), err
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
		v, err := d.DecodeInt64()
		return strconv.AppendInt(dst, v, 10), err
	case c == msgpcode.Float || c == msgpcode.Double:
		f, err := d.DecodeFloat64()
		if err != nil {
			return nil, err
		}
		return appendFloat(dst, f)
	case msgpcode.IsString(c):
		s, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		return appendString(dst, s), nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		dst = append(dst, '[')
		for i := 0; i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendJSON(dst, d, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		dst = append(dst, '{')
		for i := 0; i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if k, err := d.PeekCode(); err != nil || !msgpcode.IsString(k) {
				return nil, errors.New("map key is not a string")
			}
			key, err := d.DecodeString()
			if err != nil {
				return nil, err
			}
			dst = append(appendString(dst, key), ':')
			if dst, err = appendJSON(dst, d, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("type 0x%02x has no JSON form", c)
}

// appendFloat writes f as encoding/json does.
func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("float %v has no JSON form", f)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, f, format, -1, 64), nil
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a Go string always encodes
	return append(dst, b...)
}
