package wire

import (
	"math"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// sameAsTree checks DecodeKeeping against Decode for one body: the same
// acceptance, and the same JSON, msgpack and payload JSON out of every
// kept member (the key "p" at depth 1 and 2).
func sameAsTree(t *testing.T, b []byte) {
	t.Helper()
	tree, _, treeErr := Decode(b)
	for depth := 1; depth <= 2; depth++ {
		kept, _, keptErr := DecodeKeeping(b, "p", depth)
		if (treeErr == nil) != (keptErr == nil) {
			t.Fatalf("depth %d: Decode %v, DecodeKeeping %v for %q", depth, treeErr, keptErr, b)
		}
		if treeErr != nil {
			continue
		}
		j1, e1 := AppendJSON(nil, tree)
		j2, e2 := AppendJSON(nil, kept)
		if (e1 == nil) != (e2 == nil) || e1 == nil && string(j1) != string(j2) {
			t.Fatalf("depth %d: JSON %s (%v) vs kept %s (%v) for %q", depth, j1, e1, j2, e2, b)
		}
		m1, e1 := AppendMsgpack(nil, tree)
		m2, e2 := AppendMsgpack(nil, kept)
		if (e1 == nil) != (e2 == nil) || e1 == nil && string(m1) != string(m2) {
			t.Fatalf("depth %d: msgpack differs (%v, %v) for %q", depth, e1, e2, b)
		}
		// Every member named p, wherever kept, encodes as the same payload.
		var walk func(a, k Value)
		walk = func(a, k Value) {
			switch a.Kind {
			case Object:
				for i := range a.Obj {
					if a.Obj[i].Key == "p" {
						p1, e1 := EncodePayload(nil, a.Obj[i].Val)
						p2, e2 := EncodePayload(nil, k.Obj[i].Val)
						if (e1 == nil) != (e2 == nil) || e1 == nil && string(p1) != string(p2) {
							t.Fatalf("payload %s (%v) vs kept %s (%v) for %q", p1, e1, p2, e2, b)
						}
					}
					if k.Obj[i].Val.Kind != Encoded {
						walk(a.Obj[i].Val, k.Obj[i].Val)
					}
				}
			case Array:
				for i := range a.Arr {
					walk(a.Arr[i], k.Arr[i])
				}
			}
		}
		walk(tree, kept)
	}
}

func keepCorpus() [][]byte {
	var out [][]byte
	for _, s := range []string{
		`{"p":{"b":1,"a":[1,2.50,"x\u00e9\n",null,true,false,{}],"c":1e2}}`,
		`{"args":{"p":{"a":1,"a":2,"b":3}}}`,            // repeated key: first position, last value
		`{"args":{"p":{"\u0061":1,"a":2}}}`,             // escaped key
		`{"args":{"p":"text"},"p":[1,{"p":2}]}`,         // non-objects are wrapped
		`{"args":{"p":123456789012345678901234567890}}`, // big integer
		`{"args":{"p":-0.0}, "x" : [ ] }`,
		`{"args":{"p":{"k":"\ud83d\ude00 \ud800"}}}`, // lone surrogate
		`{"args":{"p":{"a":1,}}}`,                    // bad
		"{\"args\":{\"p\":\"\xff\"}}",                // bad UTF-8
		`{"args":{"p":1e999}}`,                       // overflow
		`{"args":{"p":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}}`,
	} {
		out = append(out, []byte(s))
	}
	many := map[string]any{}
	for i := range 40 {
		many[strings.Repeat("k", i+1)] = i
	}
	for _, v := range []any{
		map[string]any{"p": map[string]any{"b": 1, "a": []any{1, 2.5, "x", nil, true, float32(1.5), uint64(math.MaxUint64), int64(-1 << 40)}}},
		map[string]any{"args": map[string]any{"p": []byte{1, 2}}},                   // binary
		map[string]any{"args": map[string]any{"p": map[string]any{"x": []byte{1}}}}, // nested binary
		map[string]any{"args": map[string]any{"p": map[int]int{1: 2}}},              // non-string key
		map[string]any{"args": map[string]any{"p": "s"}, "p": nil},
		map[string]any{"args": map[string]any{"p": many}}, // past the one-pass key count
		map[string]any{"args": map[string]any{"p": map[string]any{"s": strings.Repeat("é", 100)}}},
		map[string]any{"args": map[string]any{"p": math.Inf(1)}},
	} {
		b, _ := msgpack.Marshal(v)
		out = append(out, b)
	}
	// A repeated key in msgpack: {"p": {"a": 1, "a": 2}} at depth 1.
	out = append(out, []byte{0x81, 0xa1, 'p', 0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02})
	// A truncated map inside the kept value.
	out = append(out, []byte{0x81, 0xa1, 'p', 0x82, 0xa1, 'a', 0x01})
	return out
}

func TestDecodeKeepingMatchesTree(t *testing.T) {
	for _, b := range keepCorpus() {
		sameAsTree(t, b)
	}
	v, _, err := DecodeKeeping([]byte(`{"args":{"p":{"a":1}},"p":2}`), "p", 2)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := v.Get("args"); a.Obj[0].Val.Kind != Encoded {
		t.Errorf("args.p not kept: %+v", a.Obj[0].Val)
	}
	if p, _ := v.Get("p"); p.Kind != Int {
		t.Errorf("p at depth 1 kept: %+v", p)
	}
}

func FuzzDecodeKeeping(f *testing.F) {
	for _, b := range keepCorpus() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameAsTree(t, b) })
}

func BenchmarkEncodePayload(b *testing.B) {
	body, _ := msgpack.Marshal(map[string]any{"v": 1, "op": "bus.publish", "req_id": "1", "args": map[string]any{"topic": "t",
		"payload": map[string]any{"plugin_id": "bench-plugin", "priority": 5, "kind": "sample", "id": "abc-123", "ts": 1.5,
			"text": strings.Repeat("lorem ipsum ", 12), "tags": []any{"a", "b", "c"}, "n": 42}}})
	for _, c := range []struct {
		name   string
		decode func() (Value, Encoding, error)
	}{
		{"tree", func() (Value, Encoding, error) { return Decode(body) }},
		{"kept", func() (Value, Encoding, error) { return DecodeKeeping(body, "payload", 2) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, _, err := c.decode()
				args, _ := v.Get("args")
				p, _ := args.Get("payload")
				if _, err = EncodePayload(nil, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
