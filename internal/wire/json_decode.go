package wire

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeJSON parses one strict RFC 8259 JSON document. Invalid UTF-8,
// NaN/Infinity and numbers that overflow float64 are errors. Lone UTF-16
// surrogates in \u escapes become U+FFFD.
func DecodeJSON(b []byte) (Value, error) {
	p := jsonParser{b: b}
	p.skipWS()
	v, err := p.value(0)
	if err != nil {
		return Value{}, err
	}
	p.skipWS()
	if p.i != len(p.b) {
		return Value{}, ErrSyntax
	}
	return v, nil
}

type jsonParser struct {
	b    []byte
	i    int
	buf  []byte
	keep keeping // members left encoded (DecodeKeeping)
}

func (p *jsonParser) skipWS() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (Value, error) {
	if depth > MaxDepth {
		return Value{}, ErrDepth
	}
	if p.i >= len(p.b) {
		return Value{}, ErrSyntax
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		return StringValue(s), err
	case c == 't':
		return BoolValue(true), p.lit("true")
	case c == 'f':
		return BoolValue(false), p.lit("false")
	case c == 'n':
		return NullValue(), p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return Value{}, ErrSyntax
}

func (p *jsonParser) lit(s string) error {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return ErrSyntax
	}
	p.i += len(s)
	return nil
}

func (p *jsonParser) object(depth int) (Value, error) {
	p.i++ // {
	obj := []Member{}
	p.skipWS()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return ObjectValue(obj), nil
	}
	for {
		kb, err := p.memberKey()
		if err != nil {
			return Value{}, err
		}
		k := memberName(kb) // before the value reuses the decode buffer
		var v Value
		if p.keep.keeps(k, depth+1) {
			start := p.i
			err = p.skip(depth + 1)
			v = Value{Kind: Encoded, Enc: JSON, Raw: p.b[start:p.i]}
		} else {
			v, err = p.value(depth + 1)
		}
		if err != nil {
			return Value{}, err
		}
		obj = setMember(obj, k, v)
		if more, err := p.next('}'); !more {
			if err != nil {
				return Value{}, err
			}
			return ObjectValue(obj), nil
		}
	}
}

// memberKey reads an object member's `"key":` (and the whitespace around
// it); the key is valid until the next string is read.
func (p *jsonParser) memberKey() ([]byte, error) {
	p.skipWS()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, ErrSyntax
	}
	k, err := p.strBytes()
	if err != nil {
		return nil, err
	}
	return k, p.colon()
}

// skipMemberKey checks an object member's `"key":` without decoding it.
func (p *jsonParser) skipMemberKey() error {
	p.skipWS()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return ErrSyntax
	}
	if err := p.skipString(); err != nil {
		return err
	}
	return p.colon()
}

func (p *jsonParser) colon() error {
	p.skipWS()
	if p.i >= len(p.b) || p.b[p.i] != ':' {
		return ErrSyntax
	}
	p.i++
	p.skipWS()
	return nil
}

// next reads what follows an element of an object or array: a comma (more
// is true) or the closing bracket (the container is done).
func (p *jsonParser) next(closing byte) (more bool, err error) {
	p.skipWS()
	if p.i >= len(p.b) {
		return false, ErrSyntax
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		return true, nil
	case closing:
		p.i++
		return false, nil
	}
	return false, ErrSyntax
}

func (p *jsonParser) array(depth int) (Value, error) {
	p.i++ // [
	arr := []Value{}
	p.skipWS()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return ArrayValue(arr), nil
	}
	for {
		p.skipWS()
		v, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		arr = append(arr, v)
		if more, err := p.next(']'); !more {
			if err != nil {
				return Value{}, err
			}
			return ArrayValue(arr), nil
		}
	}
}

func (p *jsonParser) str() (string, error) {
	b, err := p.strBytes()
	return string(b), err
}

// strBytes decodes a string; the result points into the input when the
// string has no escapes, else into a buffer reused by the next call.
func (p *jsonParser) strBytes() ([]byte, error) {
	p.i++ // opening quote
	start := p.i
	// Fast path: no escapes, all ASCII or valid UTF-8.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				return nil, ErrUTF8
			}
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, ErrSyntax
		}
		p.i++
	}
	buf := append(p.buf[:0], p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			p.buf = buf
			if !utf8.Valid(buf) {
				return nil, ErrUTF8
			}
			return buf, nil
		case c < 0x20:
			return nil, ErrSyntax
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		// escape
		if p.i+1 >= len(p.b) {
			return nil, ErrSyntax
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, ErrSyntax
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					var ok2 bool
					if r2, ok2 = p.hex4(); !ok2 {
						return nil, ErrSyntax
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						buf = utf8.AppendRune(buf, d)
						continue
					}
					p.i = save
				}
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return nil, ErrSyntax
		}
	}
	return nil, ErrSyntax
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

func (p *jsonParser) number() (Value, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.b) {
		return Value{}, ErrSyntax
	}
	if p.b[p.i] == '0' {
		p.i++
	} else if p.b[p.i] >= '1' && p.b[p.i] <= '9' {
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
		}
	} else {
		return Value{}, ErrSyntax
	}
	integral := true
	if p.i < len(p.b) && p.b[p.i] == '.' {
		integral = false
		p.i++
		if p.i >= len(p.b) || !isDigit(p.b[p.i]) {
			return Value{}, ErrSyntax
		}
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		integral = false
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.i >= len(p.b) || !isDigit(p.b[p.i]) {
			return Value{}, ErrSyntax
		}
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
		}
	}
	text := string(p.b[start:p.i])
	if integral {
		return intFromText(text), nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return Value{}, ErrNonFinite
	}
	return FloatValue(f), nil
}

// intFromText turns decimal digits (optionally signed) into the smallest kind
// that holds them.
func intFromText(text string) Value {
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return IntValue(i)
	}
	if u, err := strconv.ParseUint(text, 10, 64); err == nil {
		return UintValue(u)
	}
	return Value{Kind: BigInt, Str: text}
}

func parseBigFloat(text string) float64 {
	f, _ := strconv.ParseFloat(text, 64)
	return f
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func validUTF8(b []byte) bool { return utf8.Valid(b) }
