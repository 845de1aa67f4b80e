package handler

import (
	"io"
	"log/slog"
	"math"
	"testing"

	"github.com/messageplane/mp/internal/wire"
)

func argsOf(t *testing.T, body string, mode Mode) *args {
	t.Helper()
	v, err := wire.DecodeJSON([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return &args{obj: v, mode: mode, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// TestLimitArg is docs/PROTOCOL.md "Common args": limit is an integer >= 1
// (integral floats count, booleans never), clamped to MP_MAX_LIMIT, also
// beyond 64 bits; in strict mode anything else is BAD_ARGS.
func TestLimitArg(t *testing.T) {
	cases := []struct {
		args string
		want int
		bad  bool
	}{
		{`{}`, 200, false},
		{`{"limit":null}`, 200, false},
		{`{"limit":5}`, 5, false},
		{`{"limit":5.0}`, 5, false},
		{`{"limit":1}`, 1, false},
		{`{"limit":20000}`, 10000, false},
		{`{"limit":18446744073709551616}`, 10000, false}, // 2**64
		{`{"limit":18446744073709551615}`, 10000, false}, // 2**64-1
		{`{"limit":1e300}`, 10000, false},
		{`{"limit":0}`, 200, true},
		{`{"limit":-18446744073709551616}`, 200, true},
		{`{"limit":-1e300}`, 200, true},
		{`{"limit":1.5}`, 200, true},
		{`{"limit":true}`, 200, true},
		{`{"limit":"5"}`, 200, true},
	}
	for _, c := range cases {
		a := argsOf(t, c.args, Strict)
		got := a.limit(200, 10000)
		if got != c.want || (a.bad != "") != c.bad {
			t.Errorf("%s: limit %d bad %q, want %d bad %v", c.args, got, a.bad, c.want, c.bad)
		}
		if w := argsOf(t, c.args, Off); w.limit(200, 10000) != c.want || w.bad != "" {
			t.Errorf("%s in off mode: %d %q", c.args, w.limit(200, 10000), w.bad)
		}
	}
}

// TestAfterSeqArg: after_seq is an integer >= 0; 2**64-1 and beyond are
// valid (nothing comes after them).
func TestAfterSeqArg(t *testing.T) {
	cases := []struct {
		args string
		want int64
		ok   bool
	}{
		{`{"after_seq":0}`, 0, true},
		{`{"after_seq":7.0}`, 7, true},
		{`{"after_seq":18446744073709551615}`, math.MaxInt64, true},
		{`{"after_seq":18446744073709551616}`, math.MaxInt64, true},
		{`{"after_seq":1e300}`, math.MaxInt64, true},
		{`{"after_seq":-1}`, 0, false},
		{`{"after_seq":0.5}`, 0, false},
		{`{"after_seq":false}`, 0, false},
	}
	for _, c := range cases {
		a := argsOf(t, c.args, Strict)
		got, ok := a.integer("after_seq", 0)
		if got != c.want || ok != c.ok || (a.bad == "") != c.ok {
			t.Errorf("%s: %d %v bad %q, want %d %v", c.args, got, ok, a.bad, c.want, c.ok)
		}
	}
}
