package wire

// ScanObject walks the top-level members of a JSON object without building
// it: fn gets each key and the raw bytes of its value. Values are checked
// as they are skipped (structure, escapes, UTF-8, depth), so a body that
// ScanObject accepts is valid JSON. It exists for the store's index
// extraction, which needs a handful of top-level keys out of payloads that
// are mostly text it never looks at. key is valid only during the call
// (copying every key cost the store an allocation per payload member).
func ScanObject(b []byte, fn func(key, raw []byte)) error {
	p := jsonParser{b: b}
	p.skipWS()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return ErrSyntax
	}
	p.i++
	p.skipWS()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return p.end()
	}
	for {
		k, err := p.memberKey()
		if err != nil {
			return err
		}
		// The key may sit in the decode buffer, which skip does not touch.
		start := p.i
		if err := p.skip(1); err != nil {
			return err
		}
		fn(k, p.b[start:p.i])
		if more, err := p.next('}'); !more {
			if err != nil {
				return err
			}
			return p.end()
		}
	}
}

func (p *jsonParser) end() error {
	p.skipWS()
	if p.i != len(p.b) {
		return ErrSyntax
	}
	return nil
}

// skip passes over one value, checking it, without allocating.
func (p *jsonParser) skip(depth int) error {
	if depth > MaxDepth {
		return ErrDepth
	}
	if p.i >= len(p.b) {
		return ErrSyntax
	}
	switch c := p.b[p.i]; {
	case c == '{' || c == '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		p.i++
		p.skipWS()
		if p.i < len(p.b) && p.b[p.i] == closing {
			p.i++
			return nil
		}
		for {
			p.skipWS()
			if c == '{' {
				if err := p.skipMemberKey(); err != nil {
					return err
				}
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			if more, err := p.next(closing); !more {
				return err
			}
		}
	case c == '"':
		return p.skipString()
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == 'n':
		return p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := p.number()
		return err
	}
	return ErrSyntax
}

// skipString passes over a string, checking escapes and UTF-8.
func (p *jsonParser) skipString() error {
	p.i++ // opening quote
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			if !validUTF8(p.b[start:p.i]) {
				return ErrUTF8
			}
			p.i++
			return nil
		case c < 0x20:
			return ErrSyntax
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return ErrSyntax
			}
			switch p.b[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				p.i += 2
				if _, ok := p.hex4(); !ok {
					return ErrSyntax
				}
			default:
				return ErrSyntax
			}
		default:
			p.i++
		}
	}
	return ErrSyntax
}
