package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/test/testenv"
)

// intSeqs lists the seqs of a read's items, in reply order.
func intSeqs(t testing.TB, res map[string]any) []int {
	t.Helper()
	var out []int
	for _, it := range items(res) {
		f, ok := it["seq"].(float64)
		if !ok || f != float64(int(f)) {
			t.Fatalf("seq is not an integer: %#v", it["seq"])
		}
		out = append(out, int(f))
	}
	return out
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSnapshotNonObjectItemsDropped: docs/PROTOCOL.md "Drops": a snapshot
// item that is not an object is dropped as bad_payload, never wrapped.
func TestSnapshotNonObjectItemsDropped(t *testing.T) {
	cl := startIngest(t, nil)
	c := dial(t, cl.RPC, client.JSON)
	p := newPusher(t, cl.Ingest)
	p.send(t, []byte(`{"kind":"snapshot","store":"memory","topic":"s","items":[{"k":1},"not an object",5,null,{"k":2}]}`))
	waitStored(t, c, "memory", 2, 10*time.Second)
	p.send(t, encode(t, client.Msgpack, map[string]any{"kind": "snapshot", "store": "memory", "topic": "s", "mode": "append", "items": []any{[]any{1}, map[string]any{"k": 3}}}))
	waitStored(t, c, "memory", 3, 10*time.Second)
	var got []string
	for _, ev := range readAll(t, c, "memory", "s") {
		b, _ := json.Marshal(ev["payload"])
		got = append(got, string(b))
	}
	if want := []string{`{"k":1}`, `{"k":2}`, `{"k":3}`}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("stored %v, want %v", got, want)
	}
	eventually(t, 5*time.Second, 20*time.Millisecond, "bad_payload drops not counted", func() bool {
		return testenv.Metric(t, cl.IngestHTTP, `mp_ingest_dropped_total{reason="bad_payload"}`) == 4
	})
	// A delta payload that is not an object keeps bus.publish's wrapping.
	p.send(t, []byte(`{"kind":"delta","items":[{"store":"memory","topic":"d","payload":"x"}]}`))
	waitStored(t, c, "memory", 4, 10*time.Second)
	evs := readAll(t, c, "memory", "d")
	if b, _ := json.Marshal(evs[0]["payload"]); string(b) != `{"value":"x"}` {
		t.Fatalf("delta payload %s", b)
	}
}

// TestReplayContract: the field and order rules of docs/PROTOCOL.md
// "bus.replay" that plugins rely on, through the real binaries, in both
// encodings.
func TestReplayContract(t *testing.T) {
	cl := startRPC(t, nil)
	for _, e := range encodings {
		t.Run(e.name, func(t *testing.T) {
			c := dial(t, cl.RPC, e.enc)
			store := "runs"
			if e.enc == client.Msgpack {
				store = "export"
			}
			var seqs []int
			for _, p := range []map[string]any{
				{"plugin_id": "p", "type": "t"},         // 0
				{"plugin_id": "p"},                      // 1: no type key
				{"plugin_id": "q", "type": nil},         // 2: explicit null
				{"plugin_id": "p", "type": ""},          // 3: index null, payload ""
				{"plugin_id": "p", "message_type": "m"}, // 4
				{"plugin_id": "p", "n": 2},              // 5
			} {
				ev := mustOK(t, c, "bus.publish", map[string]any{"store": store, "topic": "r", "payload": p})["event"].(map[string]any)
				seqs = append(seqs, int(ev["seq"].(float64)))
			}
			replay := func(plan any) []int {
				return intSeqs(t, mustOK(t, c, "bus.replay", map[string]any{"store": store, "plan": plan}))
			}
			all := map[string]any{"op": "topic", "params": map[string]any{"topic": "r"}}

			// A field is missing only when it is neither an index key nor a
			// top-level payload key.
			got := replay(map[string]any{"op": "where_eq", "params": map[string]any{"field": "type", "value": nil}, "input": all})
			if want := []int{seqs[1], seqs[2], seqs[5]}; !sameInts(got, want) {
				t.Errorf("where_eq type null = %v, want %v", got, want)
			}
			got = replay(map[string]any{"op": "where_eq", "params": map[string]any{"field": "nothere", "value": nil}, "input": all})
			if len(got) != 0 {
				t.Errorf("where_eq on a missing field matched %v", got)
			}

			// An upstream get with filter fields answers newest first; the
			// SDK's get(plugin_id=...).limit(n) keeps the newest n.
			get := map[string]any{"kind": "get", "params": map[string]any{"params": map[string]any{"topic": "r", "plugin_id": "p"}}}
			if got, want := replay(get), []int{seqs[5], seqs[4], seqs[3], seqs[1], seqs[0]}; !sameInts(got, want) {
				t.Errorf("upstream get with a filter field = %v, want %v (newest first)", got, want)
			}
			limited := map[string]any{"kind": "unary", "op": "limit", "params": map[string]any{"n": 2}, "child": get}
			if got, want := replay(limited), []int{seqs[5], seqs[4]}; !sameInts(got, want) {
				t.Errorf("get then limit(2) = %v, want the newest two %v", got, want)
			}
			// Without filter fields it stays ascending, as get_recent.
			plain := map[string]any{"kind": "get", "params": map[string]any{"params": map[string]any{"topic": "r", "limit": 2}}}
			if got, want := replay(plain), []int{seqs[4], seqs[5]}; !sameInts(got, want) {
				t.Errorf("upstream get without filter = %v, want %v", got, want)
			}

			// Integers beyond 64 bits: limit clamps, after_seq reads nothing.
			res := mustOK(t, c, "bus.get_recent", map[string]any{"store": store, "topic": "r", "limit": 1e300})
			if len(items(res)) != len(seqs) {
				t.Errorf("limit 1e300 returned %d items", len(items(res)))
			}
			res = mustOK(t, c, "bus.get_since", map[string]any{"store": store, "after_seq": uint64(1<<64 - 1)})
			if len(items(res)) != 0 {
				t.Errorf("after_seq 2**64-1 returned %d items", len(items(res)))
			}
		})
	}
}
