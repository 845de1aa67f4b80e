package main

import (
	"strings"
	"testing"
)

func TestReplyStatus(t *testing.T) {
	big := map[string]any{"items": []string{strings.Repeat("x", 1000), "y"}}
	for _, c := range []struct {
		name  string
		reply map[string]any
		id    string
		ok    bool
	}{
		{"ok", map[string]any{"v": 1, "req_id": "7", "ok": true, "result": big}, "7", true},
		{"error", map[string]any{"v": 1, "req_id": "8", "ok": false, "result": nil, "error": map[string]any{"code": "BAD_ARGS"}}, "8", false},
		{"raw echo: a request", map[string]any{"v": 1, "req_id": "9", "op": "bus.publish", "args": big}, "9", true},
	} {
		for _, mp := range []bool{false, true} {
			id, ok, err := replyStatus(encodeBody(mp, c.reply))
			if err != nil || id != c.id || ok != c.ok {
				t.Errorf("%s (msgpack %v): %q %v %v, want %q %v", c.name, mp, id, ok, err, c.id, c.ok)
			}
		}
	}
	for _, bad := range []string{`[1]`, `{"req_id":`, "\x93\x01"} {
		if _, _, err := replyStatus([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
