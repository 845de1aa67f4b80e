package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/internal/zmqx"
	"github.com/messageplane/mp/test/testenv"
)

type rpcCase struct {
	name  string
	op    string
	args  map[string]any
	code  string // "" for success
	field string // BAD_ARGS details.field
	max   int    // details.max
	check func(t *testing.T, res map[string]any)
}

func items(res map[string]any) []map[string]any {
	raw, _ := res["items"].([]any)
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		out[i] = x.(map[string]any)
	}
	return out
}

func seqsOf(res map[string]any) string {
	var s []string
	for _, it := range items(res) {
		s = append(s, fmt.Sprint(it["seq"]))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func expect(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// TestRPCProtocol checks every op and every error code of docs/PROTOCOL.md with
// both encodings, against the real mp-store and mp-rpc.
func TestRPCProtocol(t *testing.T) {
	cl := startRPC(t, map[string]string{"MP_TOPIC_NAME_MAX_LEN": "16", "MP_PAYLOAD_MAX_BYTES": "64"})
	for _, e := range encodings {
		t.Run(e.name, func(t *testing.T) {
			store := "events"
			if e.enc == client.Msgpack {
				store = "runs" // each encoding gets fresh stores so seqs are predictable
			}
			c := dial(t, cl.RPC, e.enc)
			long := strings.Repeat("t", 17)
			cases := []rpcCase{
				{name: "ping", op: "ping", check: func(t *testing.T, r map[string]any) {
					expect(t, "ok", r["ok"], true)
					if _, ok := r["ts"].(float64); !ok {
						t.Errorf("ts %v", r["ts"])
					}
				}},
				{name: "health", op: "health", check: func(t *testing.T, r map[string]any) {
					expect(t, "store", r["store"], "ok")
					if r["epoch"] == "" {
						t.Error("no epoch")
					}
				}},
				{name: "publish", op: "bus.publish", args: map[string]any{"store": store, "topic": "plugin1.output", "payload": map[string]any{"plugin_id": "plugin1", "content": "Hello", "priority": 5}},
					check: func(t *testing.T, r map[string]any) {
						expect(t, "accepted", r["accepted"], true)
						ev := r["event"].(map[string]any)
						expect(t, "seq", ev["seq"], 1)
						expect(t, "topic", ev["topic"], "plugin1.output")
						expect(t, "store", ev["store"], store)
						idx := ev["index"].(map[string]any)
						expect(t, "index keys", len(idx), 9)
						expect(t, "priority", idx["priority"], 5)
						expect(t, "plugin_id", idx["plugin_id"], "plugin1")
						expect(t, "payload", ev["payload"].(map[string]any)["content"], "Hello")
					}},
				{name: "publish via bus alias, non-object payload", op: "bus.publish", args: map[string]any{"bus": store, "topic": "plugin1.output", "payload": []any{1, 2}},
					check: func(t *testing.T, r map[string]any) {
						ev := r["event"].(map[string]any)
						expect(t, "seq", ev["seq"], 2)
						expect(t, "wrapped", ev["payload"].(map[string]any)["value"], []any{1.0, 2.0})
					}},
				{name: "publish null payload", op: "bus.publish", args: map[string]any{"store": store, "topic": "other", "payload": nil},
					check: func(t *testing.T, r map[string]any) {
						p := r["event"].(map[string]any)["payload"].(map[string]any)
						if v, ok := p["value"]; !ok || v != nil {
							t.Errorf("payload %v", p)
						}
					}},
				{name: "publish topic at the limit", op: "bus.publish", args: map[string]any{"store": store, "topic": strings.Repeat("t", 16), "payload": map[string]any{}}},
				{name: "publish star is a name", op: "bus.publish", args: map[string]any{"store": store, "topic": "*", "payload": map[string]any{}}},
				{name: "list_topics", op: "bus.list_topics", args: map[string]any{"store": store}, check: func(t *testing.T, r map[string]any) {
					expect(t, "topics", r["topics"], []any{"*", strings.Repeat("t", 16), "other", "plugin1.output"})
					expect(t, "topic_count", r["topic_count"], 4)
					stores := r["stores"].([]any)
					expect(t, "stores", stores, []any{"events", "export", "lifecycle", "memory", "messages", "runs"})
					info := r["topics_info"].([]any)[3].(map[string]any)
					expect(t, "count", info["count"], 2)
					expect(t, "count_total", info["count_total"], 2)
					expect(t, "last_seq", info["last_seq"], 2)
					if r["epoch"] == "" {
						t.Error("no epoch")
					}
				}},
				{name: "get_recent", op: "bus.get_recent", args: map[string]any{"store": store, "topic": "plugin1.output", "limit": 1}, check: func(t *testing.T, r map[string]any) {
					expect(t, "seqs", seqsOf(r), "[2]")
					expect(t, "light", r["light"], false)
					expect(t, "topic", r["topic"], "plugin1.output")
					if _, ok := r["truncated"]; ok {
						t.Error("truncated present")
					}
				}},
				{name: "get_recent light", op: "bus.get_recent", args: map[string]any{"store": store, "topic": "plugin1.output", "light": true}, check: func(t *testing.T, r map[string]any) {
					expect(t, "seqs", seqsOf(r), "[1 2]")
					if _, ok := items(r)[0]["payload"]; ok {
						t.Error("light item has payload")
					}
				}},
				{name: "get_recent star", op: "bus.get_recent", args: map[string]any{"store": store, "topic": "*", "limit": 2.0}, check: func(t *testing.T, r map[string]any) {
					expect(t, "seqs", seqsOf(r), "[4 5]")
				}},
				{name: "get_recent unknown topic", op: "bus.get_recent", args: map[string]any{"store": store, "topic": "nothing"}, check: func(t *testing.T, r map[string]any) {
					expect(t, "seqs", seqsOf(r), "[]")
				}},
				{name: "get_since all", op: "bus.get_since", args: map[string]any{"store": store, "after_seq": 1, "limit": 2}, check: func(t *testing.T, r map[string]any) {
					expect(t, "seqs", seqsOf(r), "[2 3]")
					expect(t, "head_seq", r["head_seq"], 5)
					expect(t, "after_seq", r["after_seq"], 1)
					if v, ok := r["topic"]; !ok || v != nil {
						t.Errorf("topic echo %v", v)
					}
					if r["epoch"] == "" {
						t.Error("no epoch")
					}
				}},
				{name: "get_since topic", op: "bus.get_since", args: map[string]any{"store": store, "topic": "plugin1.output"}, check: func(t *testing.T, r map[string]any) {
					expect(t, "seqs", seqsOf(r), "[1 2]")
					expect(t, "topic", r["topic"], "plugin1.output")
				}},
				{name: "query", op: "bus.query", args: map[string]any{"store": store, "plugin_id": "plugin1", "priority_min": 5, "since_ts": 0, "until_ts": 1e12}, check: func(t *testing.T, r map[string]any) {
					expect(t, "seqs", seqsOf(r), "[1]")
				}},
				{name: "query newest first", op: "bus.query", args: map[string]any{"store": store, "topic": "*"}, check: func(t *testing.T, r map[string]any) {
					expect(t, "seqs", seqsOf(r), "[5 4 3 2 1]")
					expect(t, "topic", r["topic"], "*")
				}},
				{name: "replay", op: "bus.replay", args: map[string]any{"store": store, "plan": map[string]any{
					"op": "filter", "params": map[string]any{"plugin_id": "plugin1", "priority_min": 5},
					"input": map[string]any{"op": "topic", "params": map[string]any{"topic": "plugin1.output"}}}},
					check: func(t *testing.T, r map[string]any) { expect(t, "seqs", seqsOf(r), "[1]") }},
				{name: "replay trace alias and limit", op: "bus.replay", args: map[string]any{"store": store, "limit": 1, "trace": map[string]any{
					"kind": "get", "params": map[string]any{"topic": "*"}}},
					check: func(t *testing.T, r map[string]any) { expect(t, "seqs", seqsOf(r), "[1]") }},

				{name: "unknown op", op: "bus.nope", code: "UNKNOWN_OP"},
				{name: "invalid store", op: "bus.publish", args: map[string]any{"store": "nope", "payload": 1}, code: "INVALID_STORE"},
				{name: "topic required", op: "bus.publish", args: map[string]any{"store": store, "payload": 1}, code: "TOPIC_REQUIRED"},
				{name: "topic empty", op: "bus.publish", args: map[string]any{"topic": "", "payload": 1}, code: "TOPIC_REQUIRED"},
				{name: "get_recent needs topic", op: "bus.get_recent", args: map[string]any{}, code: "TOPIC_REQUIRED"},
				{name: "topic too long", op: "bus.publish", args: map[string]any{"topic": long, "payload": 1}, code: "TOPIC_TOO_LONG", max: 16},
				{name: "topic too long on reads", op: "bus.get_since", args: map[string]any{"topic": long}, code: "TOPIC_TOO_LONG", max: 16},
				{name: "topic with NUL", op: "bus.publish", args: map[string]any{"topic": "a\x00b", "payload": 1}, code: "BAD_ARGS", field: "topic"},
				{name: "topic not a string", op: "bus.get_recent", args: map[string]any{"topic": 5}, code: "BAD_ARGS", field: "topic"},
				{name: "payload missing", op: "bus.publish", args: map[string]any{"topic": "a"}, code: "BAD_ARGS", field: "payload"},
				{name: "payload too large", op: "bus.publish", args: map[string]any{"topic": "a", "payload": map[string]any{"x": strings.Repeat("y", 60)}}, code: "PAYLOAD_TOO_LARGE", max: 64},
				{name: "payload exactly at the limit", op: "bus.publish", args: map[string]any{"store": store, "topic": "a", "payload": map[string]any{"x": strings.Repeat("y", 56)}}},
				{name: "limit zero", op: "bus.get_recent", args: map[string]any{"topic": "a", "limit": 0}, code: "BAD_ARGS", field: "limit"},
				{name: "limit bool", op: "bus.get_recent", args: map[string]any{"topic": "a", "limit": true}, code: "BAD_ARGS", field: "limit"},
				{name: "limit fraction", op: "bus.get_recent", args: map[string]any{"topic": "a", "limit": 1.5}, code: "BAD_ARGS", field: "limit"},
				{name: "light not bool", op: "bus.get_recent", args: map[string]any{"topic": "a", "light": "yes"}, code: "BAD_ARGS", field: "light"},
				{name: "store not string", op: "bus.list_topics", args: map[string]any{"store": 5}, code: "BAD_ARGS", field: "store"},
				{name: "after_seq negative", op: "bus.get_since", args: map[string]any{"after_seq": -1}, code: "BAD_ARGS", field: "after_seq"},
				{name: "priority_min string", op: "bus.query", args: map[string]any{"priority_min": "5"}, code: "BAD_ARGS", field: "priority_min"},
				{name: "since_ts bool", op: "bus.query", args: map[string]any{"since_ts": true}, code: "BAD_ARGS", field: "since_ts"},
				{name: "plan missing", op: "bus.replay", args: map[string]any{}, code: "PLAN_REQUIRED"},
				{name: "plan not object", op: "bus.replay", args: map[string]any{"plan": "x"}, code: "BAD_ARGS", field: "plan"},
				{name: "plan unsupported", op: "bus.replay", args: map[string]any{"plan": map[string]any{"op": "explode"}}, code: "UNSUPPORTED_PLAN"},
				{name: "store checked before topic", op: "bus.publish", args: map[string]any{"store": "nope"}, code: "BAD_ARGS", field: "payload"},
				{name: "invalid store before missing topic", op: "bus.publish", args: map[string]any{"store": "nope", "payload": 1}, code: "INVALID_STORE"},
				{name: "invalid store before plan", op: "bus.replay", args: map[string]any{"store": "nope"}, code: "INVALID_STORE"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					r := call(t, c, tc.op, tc.args)
					if r.V != 1 || r.ReqID == nil {
						t.Errorf("envelope: %s", r.Raw)
					}
					if tc.code == "" {
						if !r.OK || r.Error != nil {
							t.Fatalf("want success, got %s", r.Raw)
						}
						var res map[string]any
						if err := r.Decode(&res); err != nil {
							t.Fatal(err)
						}
						if tc.check != nil {
							tc.check(t, res)
						}
						return
					}
					if r.OK || r.Error == nil || r.Error.Code != tc.code || string(r.Result) != "null" {
						t.Fatalf("want %s, got %s", tc.code, r.Raw)
					}
					var details map[string]any
					_ = json.Unmarshal(r.Error.Details, &details)
					if tc.field != "" {
						expect(t, "details.field", details["field"], tc.field)
					}
					if tc.max != 0 {
						expect(t, "details.max", details["max"], tc.max)
					}
					if msg := map[string]string{"INVALID_STORE": "invalid store", "TOPIC_REQUIRED": "topic is required", "TOPIC_TOO_LONG": "topic too long",
						"BAD_ARGS": "invalid args", "PAYLOAD_TOO_LARGE": "payload too large", "PLAN_REQUIRED": "plan is required",
						"UNSUPPORTED_PLAN": "unsupported plan"}[tc.code]; msg != "" {
						expect(t, "message", r.Error.Message, msg)
					}
				})
			}
		})
	}
}

// TestRPCEnvelope sends hand-made bodies and checks the envelope rules.
func TestRPCEnvelope(t *testing.T) {
	cl := startRPC(t, nil)
	mp := func(v any) []byte { b, _ := msgpack.Marshal(v); return b }
	cases := []struct {
		name    string
		body    []byte
		code    string
		reqID   any
		message string
		msgpack bool
	}{
		{"garbage", []byte("\x00\xffnot anything"), "BAD_REQUEST", nil, "invalid rpc envelope", false},
		{"json array", []byte(`[1,2]`), "BAD_REQUEST", nil, "invalid rpc envelope", false},
		{"json truncated", []byte(`{"req_id":"x","op":"ping"`), "BAD_REQUEST", nil, "invalid rpc envelope", false},
		{"json NaN", []byte(`{"req_id":"x","op":"ping","v":NaN}`), "BAD_REQUEST", nil, "invalid rpc envelope", false},
		{"invalid utf8", []byte("{\"req_id\":\"x\xff\",\"op\":\"ping\"}"), "BAD_REQUEST", nil, "invalid rpc envelope", false},
		{"msgpack array", mp([]any{1}), "BAD_REQUEST", nil, "invalid rpc envelope", false},
		{"empty body", []byte{}, "BAD_REQUEST", nil, "invalid rpc envelope", false},
		{"req_id missing", []byte(`{"op":"ping"}`), "BAD_ARGS", nil, "invalid args", false},
		{"req_id empty", []byte(`{"op":"ping","req_id":""}`), "BAD_ARGS", "", "invalid args", false},
		{"req_id 65", []byte(`{"op":"ping","req_id":"` + strings.Repeat("r", 65) + `"}`), "BAD_ARGS", strings.Repeat("r", 65), "invalid args", false},
		{"req_id 64", []byte(`{"op":"ping","req_id":"` + strings.Repeat("r", 64) + `"}`), "", strings.Repeat("r", 64), "", false},
		{"req_id number", []byte(`{"op":"ping","req_id":5}`), "BAD_ARGS", nil, "invalid args", false},
		{"op missing", []byte(`{"req_id":"a"}`), "BAD_ARGS", "a", "invalid args", false},
		{"op number", mp(map[string]any{"req_id": "a", "op": 5}), "BAD_ARGS", "a", "invalid args", true},
		{"args not object", []byte(`{"req_id":"a","op":"ping","args":[1]}`), "BAD_ARGS", "a", "invalid args", false},
		{"from_plugin number", []byte(`{"req_id":"a","op":"ping","from_plugin":1}`), "BAD_ARGS", "a", "invalid args", false},
		{"v 2", []byte(`{"req_id":"a","op":"ping","v":2}`), "UNSUPPORTED_VERSION", "a", "unsupported protocol version: 2", false},
		{"v string", []byte(`{"req_id":"a","op":"ping","v":"x"}`), "UNSUPPORTED_VERSION", "a", `unsupported protocol version: "x"`, false},
		{"v 1.5", []byte(`{"req_id":"a","op":"ping","v":1.5}`), "UNSUPPORTED_VERSION", "a", "unsupported protocol version: 1.5", false},
		{"v true", []byte(`{"req_id":"a","op":"ping","v":true}`), "UNSUPPORTED_VERSION", "a", "unsupported protocol version: true", false},
		{"v 1.0", []byte(`{"req_id":"a","op":"ping","v":1.0}`), "", "a", "", false},
		{"v null", []byte(`{"req_id":"a","op":"ping","v":null,"args":null,"from_plugin":null}`), "", "a", "", false},
		{"unknown op", []byte(`{"req_id":"a","op":"nope"}`), "UNKNOWN_OP", "a", "unknown op: nope", false},
		{"version before op", []byte(`{"req_id":"a","op":"nope","v":3}`), "UNSUPPORTED_VERSION", "a", "unsupported protocol version: 3", false},
		{"msgpack ok", mp(map[string]any{"req_id": "m", "op": "ping", "v": 1}), "", "m", "", true},
		{"msgpack binary payload", mp(map[string]any{"req_id": "m", "op": "bus.publish", "args": map[string]any{"topic": "a", "payload": map[string]any{"b": []byte{1}}}}), "BAD_ARGS", "m", "invalid args", true},
		{"msgpack NaN", mp(map[string]any{"req_id": "m", "op": "ping", "v": 1, "x": 1.0 / zero()}), "BAD_REQUEST", nil, "invalid rpc envelope", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			frames := raw(t, cl.RPC, zmqx.DEALER, tc.body)
			if len(frames) != 1 {
				t.Fatalf("reply frames %d", len(frames))
			}
			isMsgpack := len(frames[0]) > 0 && frames[0][0] != '{'
			if isMsgpack != tc.msgpack {
				t.Errorf("reply encoding msgpack=%v, want %v: %q", isMsgpack, tc.msgpack, frames[0])
			}
			r := asJSON(t, frames[0])
			expect(t, "req_id", r["req_id"], tc.reqID)
			expect(t, "v", r["v"], 1)
			if tc.code == "" {
				expect(t, "ok", r["ok"], true)
				return
			}
			e, _ := r["error"].(map[string]any)
			if r["ok"] != false || e == nil {
				t.Fatalf("want error, got %v", r)
			}
			expect(t, "code", e["code"], tc.code)
			expect(t, "message", e["message"], tc.message)
		})
	}
}

func zero() float64 { return 0 }

// TestRPCSocketTypes: REQ, DEALER without and with the empty delimiter, and
// a multi-frame envelope echoed back unchanged.
func TestRPCSocketTypes(t *testing.T) {
	cl := startRPC(t, nil)
	body := []byte(`{"req_id":"s1","op":"ping"}`)
	if f := raw(t, cl.RPC, zmqx.REQ, body); len(f) != 1 || asJSON(t, f[0])["ok"] != true {
		t.Errorf("REQ: %q", f)
	}
	if f := raw(t, cl.RPC, zmqx.DEALER, []byte{}, body); len(f) != 2 || len(f[0]) != 0 || asJSON(t, f[1])["ok"] != true {
		t.Errorf("DEALER with delimiter: %q", f)
	}
	if f := raw(t, cl.RPC, zmqx.DEALER, []byte("hop1"), []byte("hop2"), body); len(f) != 3 || string(f[0]) != "hop1" || string(f[1]) != "hop2" {
		t.Errorf("envelope echo: %q", f)
	}
}

// TestRPCPipelining: 8 DEALER clients with 1000 requests each in flight.
func TestRPCPipelining(t *testing.T) {
	cl := startRPC(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		enc := encodings[i%2].enc
		c := dial(t, cl.RPC, enc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inner sync.WaitGroup
			for j := 0; j < 1000; j++ {
				inner.Add(1)
				go func() {
					defer inner.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					op := "ping"
					var args any
					if j%4 == 0 {
						op, args = "bus.publish", map[string]any{"topic": fmt.Sprint("client", i), "payload": map[string]any{"j": j}}
					}
					r, err := c.Call(ctx, op, args)
					if err != nil || !r.OK {
						errs <- fmt.Errorf("client %d req %d: %v", i, j, err)
					}
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c := dial(t, cl.RPC, client.JSON)
	res := mustOK(t, c, "bus.get_since", map[string]any{"limit": 10000})
	expect(t, "stored publishes", len(items(res)), 8*250)
}

// TestRPCStoreDown: with the store killed, requests answer UNAVAILABLE
// within 2 s; once it is back they succeed and report a new epoch.
func TestRPCStoreDown(t *testing.T) {
	testenv.SplitOnly(t)
	testenv.MemoryOnly(t)
	cl := startRPC(t, nil)
	c := dial(t, cl.RPC, client.JSON)
	before := mustOK(t, c, "health", nil)["epoch"]
	mustOK(t, c, "bus.publish", map[string]any{"topic": "a", "payload": 1})

	cl.Store.Kill()
	for _, op := range []string{"bus.publish", "bus.get_recent", "bus.list_topics"} {
		start := time.Now()
		r := call(t, c, op, map[string]any{"topic": "a", "payload": 1})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s took %v with the store down", op, d)
		}
		if r.Error == nil || r.Error.Code != "UNAVAILABLE" || r.Error.Message != "store unavailable" {
			t.Errorf("%s with store down: %s", op, r.Raw)
		}
	}
	h := mustOK(t, c, "health", nil)
	expect(t, "health ok", h["ok"], false)
	expect(t, "health store", h["store"], "unavailable")
	mustOK(t, c, "ping", nil)

	cl.Store.Restart()
	testenv.WaitReady(t, cl.StoreHTTP, 10*time.Second)
	var r *client.Reply
	eventually(t, 10*time.Second, 100*time.Millisecond, "store back but publish still fails", func() bool {
		r = call(t, c, "bus.publish", map[string]any{"topic": "a", "payload": 2})
		return r.OK
	})
	var res map[string]any
	_ = r.Decode(&res)
	expect(t, "seq in new epoch", res["event"].(map[string]any)["seq"], 1)
	after := mustOK(t, c, "health", nil)["epoch"]
	if after == before || after == nil {
		t.Errorf("epoch did not change: %v -> %v", before, after)
	}
}

// TestRPCValidateModes: warn and off fall back to defaults.
func TestRPCValidateModes(t *testing.T) {
	for _, mode := range []string{"warn", "off"} {
		t.Run(mode, func(t *testing.T) {
			cl := startRPC(t, map[string]string{"MP_VALIDATE_MODE": mode})
			c := dial(t, cl.RPC, client.JSON)
			mustOK(t, c, "bus.publish", map[string]any{"topic": "a", "payload": 1, "store": 7})
			res := mustOK(t, c, "bus.get_recent", map[string]any{"topic": "a", "limit": "x", "light": "y"})
			expect(t, "items", len(items(res)), 1)
			expect(t, "light default", res["light"], false)
			mustOK(t, c, "ping", map[string]any{})
			// version and unknown ops are not argument types: still refused
			if r := call(t, c, "nope", nil); r.Error == nil || r.Error.Code != "UNKNOWN_OP" {
				t.Errorf("unknown op in %s: %s", mode, r.Raw)
			}
		})
	}
}

// TestRPCTruncation: MP_MAX_REPLY_BYTES cuts reads and says so.
func TestRPCTruncation(t *testing.T) {
	cl := startRPC(t, map[string]string{"MP_MAX_REPLY_BYTES": "65536"})
	c := dial(t, cl.RPC, client.JSON)
	big := strings.Repeat("x", 10000)
	for i := 0; i < 10; i++ {
		mustOK(t, c, "bus.publish", map[string]any{"topic": "big", "payload": map[string]any{"s": big}})
	}
	res := mustOK(t, c, "bus.get_recent", map[string]any{"topic": "big", "limit": 10})
	expect(t, "truncated", res["truncated"], true)
	n := len(items(res))
	if n == 0 || n >= 10 || items(res)[n-1]["seq"] != 10.0 {
		t.Errorf("get_recent kept %s", seqsOf(res))
	}
	res = mustOK(t, c, "bus.get_since", map[string]any{"topic": "big"})
	if items(res)[0]["seq"] != 1.0 || res["truncated"] != true {
		t.Errorf("get_since kept %s", seqsOf(res))
	}
}

// TestRPCStoreHung: with the store stopped (SIGSTOP, the connection stays
// up), concurrent publishes and reads all answer UNAVAILABLE within 2 s,
// and succeed once it resumes.
func TestRPCStoreHung(t *testing.T) {
	testenv.SplitOnly(t)
	cl := startRPC(t, nil)
	c := dial(t, cl.RPC, client.Msgpack)
	mustOK(t, c, "bus.publish", map[string]any{"topic": "a", "payload": 1})
	cl.Store.Signal(syscall.SIGSTOP)
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op, args := "bus.publish", map[string]any{"topic": "a", "payload": i}
			if i%4 == 0 {
				op, args = "bus.get_recent", map[string]any{"topic": "a"}
			}
			start := time.Now()
			r, err := c.Call(context.Background(), op, args)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s answered after %v", op, d)
			}
			if r == nil || r.Error == nil || r.Error.Code != "UNAVAILABLE" {
				t.Errorf("%s with the store hung: %v %v", op, r, err)
			}
		}()
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	cl.Store.Signal(syscall.SIGCONT)
	eventually(t, 10*time.Second, 50*time.Millisecond, "no recovery after SIGCONT", func() bool {
		return call(t, c, "bus.publish", map[string]any{"topic": "a", "payload": "back"}).OK
	})
}

// TestRPCOversizedFrame: a frame above MP_RPC_MAX_MSG_BYTES costs its
// sender the connection, never the server its memory; a payload above
// MP_PAYLOAD_MAX_BYTES but under the frame limit is answered
// PAYLOAD_TOO_LARGE; other clients keep being served.
func TestRPCOversizedFrame(t *testing.T) {
	cl := startRPC(t, map[string]string{"MP_RPC_MAX_MSG_BYTES": "2097152"})
	c := dial(t, cl.RPC, client.JSON)
	huge := []byte(`{"req_id":"h","op":"bus.publish","args":{"topic":"a","payload":"` + strings.Repeat("x", 4<<20) + `"}}`)
	if f := raw(t, cl.RPC, zmqx.DEALER, huge); f != nil {
		t.Errorf("oversized frame answered: %.100q", f)
	}
	r := call(t, c, "bus.publish", map[string]any{"topic": "a", "payload": strings.Repeat("x", 1<<20+10)})
	if r.Error == nil || r.Error.Code != "PAYLOAD_TOO_LARGE" {
		t.Errorf("large payload: %.200s", r.Raw)
	}
	mustOK(t, c, "ping", nil)
	if cl.RPCProc.Exited() {
		t.Fatal("rpc died")
	}
}

// TestRPCReadSlots: MP_RPC_WORKERS bounds store reads only. With the one
// read slot held by a read the hung store never answers, pings, health and
// publishes are not queued behind it, and reads waiting for the slot hear
// UNAVAILABLE within their own store timeout.
func TestRPCReadSlots(t *testing.T) {
	testenv.SplitOnly(t)
	cl := startRPC(t, map[string]string{"MP_RPC_WORKERS": "1", "MP_RPC_STORE_TIMEOUT": "1s"})
	c := dial(t, cl.RPC, client.JSON)
	mustOK(t, c, "bus.publish", map[string]any{"topic": "a", "payload": 1})
	cl.Store.Signal(syscall.SIGSTOP)
	defer cl.Store.Signal(syscall.SIGCONT)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			r := call(t, c, "bus.get_recent", map[string]any{"topic": "a"})
			if d := time.Since(start); d > 1500*time.Millisecond {
				t.Errorf("read waiting for a slot answered after %v", d)
			}
			if r.Error == nil || r.Error.Code != "UNAVAILABLE" {
				t.Errorf("read with the store hung: %.200s", r.Raw)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // the reads hold and wait for the slot
	start := time.Now()
	mustOK(t, c, "ping", nil)
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Errorf("ping waited %v behind reads", d)
	}
	start = time.Now()
	if r := call(t, c, "bus.publish", map[string]any{"topic": "a", "payload": 2}); r.Error == nil || r.Error.Code != "UNAVAILABLE" {
		t.Errorf("publish with the store hung: %.200s", r.Raw)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("publish answered after %v: it waited for a read slot", d)
	}
	wg.Wait()
}
