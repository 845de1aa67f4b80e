package jetstream

import (
	"context"
	"testing"
	"time"
)

// The epoch stays across restarts and changes when a store's stream is
// created anew (its seqs start again at 1).
func TestEpochFollowsTheStreams(t *testing.T) {
	dir := t.TempDir()
	open := func() *Log {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		l, err := Open(ctx, Config{DataDir: dir, Stores: []string{"messages", "events"}, TopicMaxLen: 10, MaxPayload: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	first := l.Epoch()
	if len(first) != 16 {
		t.Fatalf("epoch %q is not 16 hex digits", first)
	}
	l.Close()

	l = open()
	if l.Epoch() != first {
		t.Fatalf("epoch after a restart %s, before %s", l.Epoch(), first)
	}
	if err := l.js.DeleteStream(context.Background(), streamName("events")); err != nil {
		t.Fatal(err)
	}
	l.Close()

	l = open()
	defer l.Close()
	if l.Epoch() == first {
		t.Fatalf("epoch %s kept after the events stream was created anew", first)
	}
}
