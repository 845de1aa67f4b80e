package handler

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/messageplane/mp/internal/limits"
	"github.com/messageplane/mp/internal/storelink"
	"github.com/messageplane/mp/internal/wire"
)

// newOffline returns a handler whose store is unreachable: everything up to
// the store check runs for real, store calls fail fast.
func newOffline(t testing.TB, mode Mode) *Handler {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	link, err := storelink.Dial("127.0.0.1:1", 1<<20, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { link.Close() })
	return New(Config{
		Limits:   limits.Config{TopicNameMaxLen: 128, PayloadMaxBytes: 1 << 20, ValidatePayloadBytes: true},
		MaxLimit: 10000, MaxReplyBytes: 1 << 26, Mode: mode, StoreTimeout: 5 * time.Millisecond,
	}, link, log)
}

func TestOfflineAnswers(t *testing.T) {
	h := newOffline(t, Strict)
	cases := map[string]string{
		`{"req_id":"a","op":"ping"}`:                                         "ok",
		`{"req_id":"a","op":"bus.publish","args":{"topic":"t","payload":1}}`: "UNAVAILABLE",
		`{"req_id":"a","op":"bus.publish","args":{"topic":"t"}}`:             "BAD_ARGS",
		`{"req_id":"a","op":"bus.get_since","args":{"after_seq":"x"}}`:       "BAD_ARGS",
		`{"req_id":"a","op":"x"}`:                                            "UNKNOWN_OP",
		`not json`:                                                           "BAD_REQUEST",
	}
	for body, want := range cases {
		out, _, outcome := h.Handle([]byte(body))
		if outcome != want {
			t.Errorf("%s: outcome %s, want %s (%s)", body, outcome, want, out)
		}
	}
	out, _, _ := h.Handle([]byte(`{"req_id":"a","op":"health"}`))
	v, _ := wire.DecodeJSON(out)
	res, _ := v.Get("result")
	if s, _ := res.Get("store"); s.Str != "unavailable" {
		t.Errorf("health offline: %s", out)
	}
}

func FuzzHandle(f *testing.F) {
	mp := func(v any) []byte { b, _ := msgpack.Marshal(v); return b }
	for _, s := range []string{
		`{"req_id":"a","op":"ping","v":1}`,
		`{"req_id":"a","op":"bus.publish","args":{"topic":"t","payload":{"x":[1,2,{"y":null}]}}}`,
		`{"req_id":"a","op":"bus.query","args":{"priority_min":1.0,"since_ts":1e9,"limit":5,"light":true}}`,
		`{"req_id":"a","op":"bus.replay","args":{"plan":{"op":"topic","params":{"topic":"*"}}}}`,
		`{"req_id":"","op":5,"v":"x"}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Add(mp(map[string]any{"req_id": "m", "op": "bus.publish", "args": map[string]any{"topic": "t", "payload": []byte{1}}}))
	f.Add(mp(map[string]any{"req_id": "m", "op": "bus.get_recent", "args": map[string]any{"topic": "t", "limit": uint64(1 << 63)}}))
	h := newOffline(f, Strict)
	f.Fuzz(func(t *testing.T, body []byte) {
		out, _, outcome := h.Handle(body)
		v, _, err := wire.Decode(out)
		if err != nil {
			t.Fatalf("reply does not decode: %v", err)
		}
		if ver, _ := v.Get("v"); ver.Int != 1 {
			t.Fatalf("reply without v=1: %s", out)
		}
		if outcome == "INTERNAL" {
			t.Fatalf("internal error for %q: %s", body, out)
		}
	})
}
