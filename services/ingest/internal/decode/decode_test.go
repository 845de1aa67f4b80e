package decode

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/messageplane/mp/internal/limits"
)

var lim = limits.Config{TopicNameMaxLen: 16, PayloadMaxBytes: 32, ValidatePayloadBytes: true}

func TestDecode(t *testing.T) {
	mp := func(v any) string { b, _ := msgpack.Marshal(v); return string(b) }
	cases := []struct {
		name, body string
		items      int
		writes     string
		drops      string
	}{
		{"delta", `{"kind":"delta","items":[{"store":"events","topic":"a","payload":{"x":1}},{"topic":"a","payload":2},{"bus":"runs","topic":"b","payload":null}]}`,
			3, `[{events a false [{"x":1}]} {messages a false [{"value":2}]} {runs b false [{"value":null}]}]`, `map[]`},
		{"delta_batch merges a topic run", `{"kind":"delta_batch","v":1,"from":"p","ts":1.5,"batch_id":"b","items":[{"topic":"a","payload":{}},{"topic":"a","payload":{}}]}`,
			2, `[{messages a false [{} {}]}]`, `map[]`},
		{"bad neighbours", `{"kind":"delta","items":[1,{"topic":"a"},{"topic":"","payload":1},{"payload":1},{"topic":5,"payload":1},{"topic":"a\u0000","payload":1},{"topic":"12345678901234567","payload":1},{"topic":"a","payload":"` + strings.Repeat("x", 40) + `"},{"topic":"ok","payload":1},{"store":7,"topic":"a","payload":1}]}`,
			10, `[{messages ok false [{"value":1}]}]`,
			`map[bad_payload:2 invalid_store:1 payload_too_large:1 topic_invalid:2 topic_required:2 topic_too_long:1]`},
		{"garbage", "\xc1\xc1", 1, `[]`, `map[decode_error:1]`},
		{"not a map", `[1,2]`, 1, `[]`, `map[decode_error:1]`},
		{"msgpack not a map", mp([]int{1}), 1, `[]`, `map[decode_error:1]`},
		{"no kind", `{"items":[1,2]}`, 2, `[]`, `map[bad_kind:2]`},
		{"unknown kind", `{"kind":"x","items":[]}`, 1, `[]`, `map[bad_kind:1]`},
		{"items not list", `{"kind":"delta","items":{"a":1}}`, 1, `[]`, `map[items_not_list:1]`},
		{"items missing", `{"kind":"delta"}`, 1, `[]`, `map[items_not_list:1]`},
		{"snapshot defaults", `{"kind":"snapshot","items":[{"k":1},{"k":2}]}`, 2, `[{messages snapshot.all true [{"k":1} {"k":2}]}]`, `map[]`},
		{"snapshot non-object items are dropped, not wrapped", `{"kind":"snapshot","items":[{"k":1},"not an object",5,null,[2],true,{"k":2}]}`, 7,
			`[{messages snapshot.all true [{"k":1} {"k":2}]}]`, `map[bad_payload:5]`},
		{"snapshot msgpack non-object items", mp(map[string]any{"kind": "snapshot", "mode": "append", "items": []any{"x", map[string]any{"k": 1}, 1.5}}), 3,
			`[{messages snapshot.all false [{"k":1}]}]`, `map[bad_payload:2]`},
		{"snapshot append", `{"kind":"snapshot","bus":"runs","topic":"s","mode":"append","items":[{"k":1}]}`, 1, `[{runs s false [{"k":1}]}]`, `map[]`},
		{"snapshot null topic", `{"kind":"snapshot","topic":null,"items":[{}]}`, 1, `[{messages snapshot.all true [{}]}]`, `map[]`},
		{"snapshot empty topic", `{"kind":"snapshot","topic":"","items":[{},{}]}`, 2, `[]`, `map[topic_required:2]`},
		{"snapshot bad mode", `{"kind":"snapshot","mode":"merge","items":[{},{}]}`, 2, `[]`, `map[bad_kind:2]`},
		{"snapshot replace with no valid item removes", `{"kind":"snapshot","topic":"s","items":[{"x":"` + strings.Repeat("x", 40) + `"}]}`, 1, `[{messages s true []}]`, `map[payload_too_large:1]`},
		{"snapshot empty replace", `{"kind":"snapshot","topic":"s","items":[]}`, 0, `[{messages s true []}]`, `map[]`},
		{"msgpack binary", mp(map[string]any{"kind": "delta", "items": []any{map[string]any{"topic": "a", "payload": []byte{1}}, map[string]any{"topic": "a", "payload": 1}}}), 2, `[{messages a false [{"value":1}]}]`, `map[bad_payload:1]`},
	}
	for _, c := range cases {
		r := Decode([]byte(c.body), lim)
		var ws []string
		for _, w := range r.Writes {
			var ps []string
			for _, p := range w.Payloads {
				ps = append(ps, string(p))
			}
			ws = append(ws, fmt.Sprintf("{%s %s %v [%s]}", w.Store, w.Topic, w.Replace, strings.Join(ps, " ")))
		}
		got := "[" + strings.Join(ws, " ") + "]"
		if got != c.writes || fmt.Sprint(r.Drops) != c.drops || r.Items != c.items {
			t.Errorf("%s:\n got %s %v items %d\nwant %s %s items %d", c.name, got, r.Drops, r.Items, c.writes, c.drops, c.items)
		}
		dropped := 0
		for _, n := range r.Drops {
			dropped += n
		}
		if r.Valid()+dropped != r.Items {
			t.Errorf("%s: %d valid + %d dropped != %d items", c.name, r.Valid(), dropped, r.Items)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"kind":"delta","items":[{"store":"events","topic":"a","payload":{"x":1}},1,{"topic":""}]}`,
		`{"kind":"snapshot","topic":"s","mode":"append","items":[{"k":1},[2],null]}`,
		`{"kind":"snapshot","mode":5,"items":{}}`, `[]`, `{}`,
	} {
		f.Add([]byte(s))
	}
	b, _ := msgpack.Marshal(map[string]any{"kind": "delta_batch", "items": []any{map[string]any{"topic": "a", "payload": []byte{1}}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := Decode(body, lim)
		dropped := 0
		for _, n := range r.Drops {
			dropped += n
		}
		// Every item is either written or counted, never lost.
		if r.Valid()+dropped != r.Items {
			t.Fatalf("%d valid + %d dropped != %d items", r.Valid(), dropped, r.Items)
		}
	})
}

// BenchmarkDecodeDelta100: one msgpack delta of 100 plugin-like items over
// ten topics, as the bench tool pushes them.
func BenchmarkDecodeDelta100(b *testing.B) {
	items := make([]any, 100)
	for i := range items {
		items[i] = map[string]any{"store": "export", "topic": fmt.Sprintf("bench.%d", i%10), "payload": map[string]any{
			"plugin_id": "bench-plugin", "priority": i % 10, "kind": "sample", "id": fmt.Sprintf("m-%d", i), "ts": 1.5,
			"text": strings.Repeat("lorem ipsum ", 12), "tags": []any{"a", "b", "c"}}}
	}
	body, _ := msgpack.Marshal(map[string]any{"kind": "delta", "items": items})
	big := limits.Config{TopicNameMaxLen: 128, PayloadMaxBytes: 1 << 20, ValidatePayloadBytes: true}
	b.ReportAllocs()
	for b.Loop() {
		if r := Decode(body, big); r.Valid() != 100 {
			b.Fatalf("%d valid", r.Valid())
		}
	}
}
