package replay

import (
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"op":"filter","params":{"plugin_id":"p","content_re":"a+"},"input":{"op":"topic","params":{"topic":"*","limit":5}}}`,
		`{"op":"union","inputs":[{"op":"topic","params":{"topic":"a"}},{"op":"sort","params":{"by":["seq","payload.x"],"reverse":true},"input":{"op":"topic","params":{"topic":"b"}}}]}`,
		`{"kind":"binary","op":"merge","left":{"kind":"get","params":{"params":{"topic":"a","max_count":3}}},"right":{"kind":"unary","op":"limit","params":{"n":1},"child":{"kind":"get"}}}`,
		`{"op":"where_in","params":{"field":"x","values":[1,"a",null]},"input":{"op":"topic","params":{"topic":"a"}}}`,
		`{"op":"where_regex","params":{"field":"x","pattern":"(a+)+$"},"input":{"op":"topic","params":{"topic":"a"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b, Options{MaxLimit: 100, TopicNameMaxLen: 128})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("parse error of the wrong type: %T %v", err, err)
			}
			return
		}
		for _, l := range p.Leaves() {
			if l.Limit < 0 || l.Limit > 100 {
				t.Fatalf("leaf limit %d outside the clamp", l.Limit)
			}
		}
		_ = p.Eval("s", 0, 100) // empty leaves: must not panic
	})
}
