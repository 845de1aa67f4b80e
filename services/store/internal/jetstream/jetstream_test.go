package jetstream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/messageplane/mp/services/store/internal/jetstream"
	"github.com/messageplane/mp/services/store/internal/store"
)

var stores = []string{"messages", "events"}

// open starts a store on a JetStream log in dir and waits until it has
// loaded; stop closes it as a crash would not (the test of a crash is the
// e2e suite's kill -9).
func open(t *testing.T, dir string, maxLen int) (s *store.Service, stop func()) {
	t.Helper()
	return openLog(t, jetstream.Config{DataDir: dir}, maxLen)
}

// openLog is open on a log configured by cfg (an embedded server's
// directory or a server's URL).
func openLog(t *testing.T, cfg jetstream.Config, maxLen int) (s *store.Service, stop func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg.Stores, cfg.TopicMaxLen, cfg.MaxPayload = stores, maxLen, 1<<20
	l, err := jetstream.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err = store.New(store.Config{Stores: stores, TopicMax: 100, TopicMaxLen: maxLen, Log: l})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(runCtx) }()
	for s.Loaded() != nil {
		time.Sleep(time.Millisecond)
	}
	return s, func() { stopRun(); <-done; l.Close() }
}

func write(t *testing.T, s *store.Service, b *store.Batch) *store.WriteResult {
	t.Helper()
	res, err := s.Write(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func appendOp(st, topic string, payload string) store.Op {
	return store.Op{Store: st, Topic: topic, Payloads: [][]byte{[]byte(payload)}}
}

// snapshot is everything a client can see of the stores.
func snapshot(t *testing.T, s *store.Service) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %s\n", s.Epoch())
	for _, st := range stores {
		topics, err := s.ListTopics(st)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s topics %+v\n", st, topics)
		r, err := s.GetSince(context.Background(), st, store.AllTopics, 0, store.ReadOpts{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		var evs []json.RawMessage
		if err := json.Unmarshal(r.Items, &evs); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			fmt.Fprintf(&b, "%s\n", e)
		}
		fmt.Fprintf(&b, "head %d\n", r.HeadSeq)
	}
	return b.String()
}

// TestRestartLosesNothing: after a restart the store shows exactly what it
// showed before: the same events with their seqs and ts, the same topic
// counters (count_total and created_at of topics whose first events were
// evicted, replaced and removed topics), the same epoch.
func TestRestartLosesNothing(t *testing.T) {
	dir := t.TempDir()
	s, stop := open(t, dir, 3)
	for i := 0; i < 5; i++ { // "a" keeps its newest 3 of 5
		write(t, s, &store.Batch{Ops: []store.Op{appendOp("messages", "a", fmt.Sprintf(`{"i":%d,"priority":%d}`, i, i))}})
	}
	write(t, s, &store.Batch{Ops: []store.Op{
		appendOp("messages", "b", `{"x":1}`), appendOp("events", "a.b c/d*>", `{"kind":"odd topic"}`),
		{Store: "messages", Topic: "snap", Replace: true, Payloads: [][]byte{[]byte(`{"k":1}`), []byte(`{"k":2}`)}},
	}})
	write(t, s, &store.Batch{Ops: []store.Op{{Store: "messages", Topic: "snap", Replace: true, Payloads: [][]byte{[]byte(`{"k":3}`)}}}})
	write(t, s, &store.Batch{Ops: []store.Op{appendOp("messages", "gone", `{}`)}})
	write(t, s, &store.Batch{Ops: []store.Op{{Store: "messages", Topic: "gone", Replace: true}}})
	before := snapshot(t, s)
	stop()

	s2, stop2 := open(t, dir, 3)
	defer stop2()
	if after := snapshot(t, s2); after != before {
		t.Fatalf("after a restart the store shows\n%s\nbefore it showed\n%s", after, before)
	}
	// And it goes on where it was.
	res := write(t, s2, &store.Batch{Ops: []store.Op{appendOp("messages", "b", `{"x":2}`)}, ReturnEvents: true})
	if res.Items[0].Seq != 11 {
		t.Fatalf("next seq %d, want 11: %s", res.Items[0].Seq, res.Items[0].Event)
	}
}

// TestRetryAcrossRestart: a producer's batch retried after a restart is
// answered from the log, not written twice.
func TestRetryAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s, stop := open(t, dir, 100)
	b := &store.Batch{Producer: "ingest-1", Number: 9, Ops: []store.Op{appendOp("messages", "a", `{"i":1}`), appendOp("messages", "a", `{"i":2}`)}}
	first := write(t, s, b)
	stop()
	s2, stop2 := open(t, dir, 100)
	defer stop2()
	again := write(t, s2, b)
	if !again.Duplicate || !reflect.DeepEqual(seqsOf(again), seqsOf(first)) {
		t.Fatalf("retry answered %+v, first %+v", again, first)
	}
	if h := s2.Heads(); h[1].HeadSeq != 2 {
		t.Fatalf("retry stored again: %+v", h)
	}
}

func seqsOf(r *store.WriteResult) []uint64 {
	var out []uint64
	for _, it := range r.Items {
		out = append(out, it.Seq)
	}
	return out
}
