package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/messageplane/mp/internal/protocol"
	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
	"github.com/messageplane/mp/services/store/internal/event"
)

type clock struct{ t float64 }

func (c *clock) now() float64 { c.t += 1; return c.t }

func newSvc(t testing.TB, topicMax, maxLen int) *Service {
	t.Helper()
	c := &clock{t: 1000}
	return withBackend(t, Config{Stores: []string{"messages", "events"}, TopicMax: topicMax, TopicMaxLen: maxLen, Now: c.now})
}

func item(store, topic, payload string) Op {
	return Op{Store: store, Topic: topic, Payloads: [][]byte{[]byte(payload)}}
}

func replace(store, topic string, payloads ...string) Op {
	r := Op{Store: store, Topic: topic, Replace: true}
	for _, p := range payloads {
		r.Payloads = append(r.Payloads, []byte(p))
	}
	return r
}

// reject says an item result the way the internal contract does.
func reject(r ItemResult) mpv1.Reject {
	if r.Expired {
		return mpv1.Reject_REJECT_EXPIRED
	}
	return protocol.Reject(r.Refused)
}

func write(t testing.TB, s *Service, ops ...Op) *WriteResult {
	t.Helper()
	resp, err := s.Write(context.Background(), &Batch{Ops: ops, ReturnEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

type ev struct {
	Seq     uint64          `json:"seq"`
	Topic   string          `json:"topic"`
	Store   string          `json:"store"`
	Payload json.RawMessage `json:"payload"`
	Index   map[string]any  `json:"index"`
}

func decode(t testing.TB, items []byte) []ev {
	t.Helper()
	var out []ev
	if err := json.Unmarshal(items, &out); err != nil {
		t.Fatalf("items %s: %v", items, err)
	}
	return out
}

// events splits a result's items into each event's JSON.
func events(t testing.TB, r Result) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	if err := json.Unmarshal(r.Items, &out); err != nil {
		t.Fatalf("items %s: %v", r.Items, err)
	}
	if len(out) != r.Count {
		t.Fatalf("count %d for %d items", r.Count, len(out))
	}
	return out
}

func seqs(t testing.TB, r Result) []uint64 {
	var out []uint64
	for _, e := range decode(t, r.Items) {
		out = append(out, e.Seq)
	}
	return out
}

func TestSeqPerStoreAndRejects(t *testing.T) {
	s := newSvc(t, 2, 10)
	resp := write(t, s,
		item("messages", "a", `{"x":1}`),
		item("events", "a", `{"x":1}`),
		item("messages", "b", `{"x":2}`),
		item("nope", "a", `{}`),
		item("messages", "", `{}`),
		item("messages", "a\x00b", `{}`),
		item("messages", "c", `{}`), // third topic: over the limit of 2
		item("messages", "a", `[1]`),
		item("messages", "a", `{"x":3}`),
	)
	want := []struct {
		seq uint64
		rej mpv1.Reject
	}{{1, 0}, {1, 0}, {2, 0}, {0, mpv1.Reject_REJECT_INVALID_STORE}, {0, mpv1.Reject_REJECT_TOPIC_REQUIRED},
		{0, mpv1.Reject_REJECT_TOPIC_INVALID}, {0, mpv1.Reject_REJECT_TOO_MANY_TOPICS}, {0, mpv1.Reject_REJECT_BAD_PAYLOAD}, {3, 0}}
	for i, w := range want {
		r := resp.Items[i]
		if r.Seq != w.seq || reject(r) != w.rej {
			t.Errorf("result %d: seq %d reject %v, want %d %v", i, r.Seq, reject(r), w.seq, w.rej)
		}
		if w.rej == 0 && len(r.Event) == 0 {
			t.Errorf("result %d: no event", i)
		}
	}
	if resp.Epoch != s.Epoch() || len(s.Epoch()) != 16 {
		t.Errorf("epoch %q", resp.Epoch)
	}
}

func TestEvictionAndReads(t *testing.T) {
	s := newSvc(t, 100, 3)
	for i := 1; i <= 5; i++ {
		write(t, s, item("messages", "a", fmt.Sprintf(`{"i":%d,"plugin_id":"p%d","priority":%d}`, i, i%2, i)))
		write(t, s, item("messages", "b", fmt.Sprintf(`{"i":%d}`, i)))
	}
	// a holds seqs 5,7,9 (its 3rd..5th); b holds 6,8,10.
	r, _ := s.GetRecent(context.Background(), "messages", "a", ReadOpts{Limit: 100})
	if got := fmt.Sprint(seqs(t, r)); got != "[5 7 9]" {
		t.Errorf("recent a = %s", got)
	}
	r, _ = s.GetRecent(context.Background(), "messages", "a", ReadOpts{Limit: 2})
	if got := fmt.Sprint(seqs(t, r)); got != "[7 9]" {
		t.Errorf("recent a limit 2 = %s", got)
	}
	r, _ = s.GetRecent(context.Background(), "messages", AllTopics, ReadOpts{Limit: 4})
	if got := fmt.Sprint(seqs(t, r)); got != "[7 8 9 10]" {
		t.Errorf("recent all = %s", got)
	}
	r, _ = s.GetSince(context.Background(), "messages", AllTopics, 0, ReadOpts{Limit: 3})
	if got := fmt.Sprint(seqs(t, r)); got != "[5 6 7]" || r.HeadSeq != 10 {
		t.Errorf("since all = %s head %d", got, r.HeadSeq)
	}
	r, _ = s.GetSince(context.Background(), "messages", "b", 6, ReadOpts{Limit: 10})
	if got := fmt.Sprint(seqs(t, r)); got != "[8 10]" {
		t.Errorf("since b = %s", got)
	}
	r, _ = s.GetRecent(context.Background(), "messages", "missing", ReadOpts{Limit: 10})
	if len(events(t, r)) != 0 {
		t.Error("unknown topic has events")
	}
	if _, err := s.GetRecent(context.Background(), "nope", "a", ReadOpts{Limit: 1}); err != ErrInvalidStore {
		t.Errorf("invalid store: %v", err)
	}
	topics, _ := s.ListTopics("messages")
	if len(topics) != 2 || topics[0].Topic != "b" || topics[0].Count != 3 || topics[0].CountTotal != 5 || topics[0].LastSeq != 10 {
		t.Errorf("topics = %+v", topics)
	}
	// light leaves the payload out
	r, _ = s.GetRecent(context.Background(), "messages", "a", ReadOpts{Limit: 1, Light: true})
	if strings.Contains(string(events(t, r)[0]), "payload") {
		t.Error("light event has payload")
	}
}

func TestQuery(t *testing.T) {
	s := newSvc(t, 100, 100)
	for i := 1; i <= 6; i++ {
		write(t, s, item("messages", "a", fmt.Sprintf(`{"plugin_id":"p%d","priority":%d,"timestamp":%d}`, i%2, i, 100+i)))
	}
	i64 := func(i int64) *int64 { return &i }
	f64 := func(f float64) *float64 { return &f }
	cases := []struct {
		f     Filter
		limit int
		want  string
	}{
		{Filter{}, 100, "[6 5 4 3 2 1]"},
		{Filter{}, 2, "[6 5]"},
		{Filter{Equals: eq("plugin_id", "p1")}, 100, "[5 3 1]"},
		{Filter{PriorityMin: i64(4)}, 100, "[6 5 4]"},
		{Filter{SinceTS: f64(102), UntilTS: f64(104)}, 100, "[4 3 2]"},
		{Filter{Equals: eq("plugin_id", "p0"), PriorityMin: i64(3)}, 1, "[6]"},
		{Filter{Equals: eq("kind", "x")}, 100, "[]"},
	}
	for _, c := range cases {
		for _, topic := range []string{"a", AllTopics} {
			r, _ := s.Query(context.Background(), "messages", topic, c.f, ReadOpts{Limit: c.limit})
			if got := fmt.Sprint(seqs(t, r)); got != c.want {
				t.Errorf("query %+v topic %q = %s want %s", c.f, topic, got, c.want)
			}
		}
	}
}

func TestTruncation(t *testing.T) {
	s := newSvc(t, 100, 100)
	for i := 1; i <= 10; i++ {
		write(t, s, item("messages", "a", `{"x":"0123456789"}`))
	}
	one, _ := s.GetRecent(context.Background(), "messages", "a", ReadOpts{Limit: 1})
	size := len(events(t, one)[0]) + 1
	r, _ := s.GetRecent(context.Background(), "messages", "a", ReadOpts{Limit: 10, MaxBytes: 3 * size})
	if got := fmt.Sprint(seqs(t, r)); got != "[8 9 10]" || !r.Truncated {
		t.Errorf("recent truncated = %s %v", got, r.Truncated)
	}
	r, _ = s.GetSince(context.Background(), "messages", "a", 0, ReadOpts{Limit: 10, MaxBytes: 3 * size})
	if got := fmt.Sprint(seqs(t, r)); got != "[1 2 3]" || !r.Truncated {
		t.Errorf("since truncated = %s", got)
	}
	r, _ = s.Query(context.Background(), "messages", "a", Filter{}, ReadOpts{Limit: 10, MaxBytes: 3 * size})
	if got := fmt.Sprint(seqs(t, r)); got != "[10 9 8]" || !r.Truncated {
		t.Errorf("query truncated = %s", got)
	}
	r, _ = s.GetSince(context.Background(), "messages", "a", 0, ReadOpts{Limit: 10, MaxBytes: 100 * size})
	if r.Truncated {
		t.Error("truncated without need")
	}
}

func TestReplaceSnapshot(t *testing.T) {
	s := newSvc(t, 2, 100)
	write(t, s, item("messages", "snap", `{"a":1}`), item("messages", "snap", `{"a":2}`))
	resp := write(t, s, replace("messages", "snap", `{"k":1}`, `[1]`, `{"k":2}`))
	if resp.Items[0].Seq != 3 || reject(resp.Items[1]) != mpv1.Reject_REJECT_BAD_PAYLOAD || resp.Items[2].Seq != 4 {
		t.Fatalf("replace results %v", resp.Items)
	}
	r, _ := s.GetRecent(context.Background(), "messages", "snap", ReadOpts{Limit: 10})
	if got := fmt.Sprint(seqs(t, r)); got != "[3 4]" {
		t.Errorf("after replace = %s", got)
	}
	topics, _ := s.ListTopics("messages")
	if topics[0].CountTotal != 2 || topics[0].CreatedAt != 1002 {
		t.Errorf("replace counters %+v", topics[0])
	}
	r, _ = s.GetSince(context.Background(), "messages", AllTopics, 0, ReadOpts{Limit: 10})
	if got := fmt.Sprint(seqs(t, r)); got != "[3 4]" {
		t.Errorf("store log after replace = %s", got)
	}
	// a replace with no valid item removes the topic
	write(t, s, replace("messages", "snap", `[1]`))
	if topics, _ := s.ListTopics("messages"); len(topics) != 0 {
		t.Errorf("topic not removed: %+v", topics)
	}
	// a full store refuses a snapshot's new topic for each item
	write(t, s, item("messages", "x", `{}`), item("messages", "y", `{}`))
	resp = write(t, s, replace("messages", "z", `{}`, `{}`))
	for _, r := range resp.Items {
		if reject(r) != mpv1.Reject_REJECT_TOO_MANY_TOPICS {
			t.Errorf("full store replace: %v", reject(r))
		}
	}
	// but replacing an existing topic in a full store works
	resp = write(t, s, replace("messages", "x", `{"n":1}`))
	if reject(resp.Items[0]) != 0 {
		t.Errorf("replace existing in full store: %v", reject(resp.Items[0]))
	}
}

func TestIdempotentRetry(t *testing.T) {
	s := newSvc(t, 100, 100)
	req := &Batch{Producer: "ingest-1", Number: 7, Ops: []Op{item("messages", "a", `{}`), item("messages", "a", `{}`)}}
	r1, _ := s.Write(context.Background(), req)
	r2, _ := s.Write(context.Background(), req)
	if !r2.Duplicate || r1.Duplicate || r2.Items[1].Seq != r1.Items[1].Seq {
		t.Errorf("retry not de-duplicated: %v %v", r1, r2)
	}
	req.Number = 8
	r3, _ := s.Write(context.Background(), req)
	if r3.Duplicate || r3.Items[0].Seq != 3 {
		t.Errorf("next batch: %v", r3)
	}
	if h := s.Heads(); h[1].HeadSeq != 4 || h[1].Name != "messages" {
		t.Errorf("heads %+v", h)
	}
}

func TestExpiredDeadlineRefused(t *testing.T) {
	s := newSvc(t, 100, 100)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Write(ctx, &Batch{Ops: []Op{item("messages", "a", `{}`)}}); err == nil {
		t.Fatal("expired write applied")
	}
	if h := s.Heads(); h[1].HeadSeq != 0 {
		t.Error("expired write stored something")
	}
}

func TestLogCompaction(t *testing.T) {
	s := newSvc(t, 100, 2)
	for i := 0; i < 5000; i++ {
		write(t, s, item("messages", fmt.Sprint("t", i%3), `{}`))
	}
	st := s.stores["messages"]
	if len(st.log) > 2*6+2048 {
		t.Errorf("log not compacted: %d entries for 6 retained", len(st.log))
	}
	r, _ := s.GetSince(context.Background(), "messages", AllTopics, 0, ReadOpts{Limit: 100})
	if got := fmt.Sprint(seqs(t, r)); got != "[4995 4996 4997 4998 4999 5000]" {
		t.Errorf("retained = %s", got)
	}
}

// keep copies a watch batch, which is valid only until the callback returns.
func keep(b *WatchBatch) *WatchBatch {
	c := *b
	c.Events = nil
	for _, e := range b.Events {
		e.JSON = slices.Clone(e.JSON)
		c.Events = append(c.Events, e)
	}
	return &c
}

func TestWatch(t *testing.T) {
	s := newSvc(t, 100, 2)
	write(t, s, item("messages", "a", `{}`), item("messages", "a", `{}`), item("messages", "a", `{}`)) // seq 1 evicted
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := make(chan *WatchBatch, 100)
	go func() {
		_ = s.Watch(ctx, "messages", 0, s.Epoch(), false, func(b *WatchBatch) error { batches <- keep(b); return nil })
	}()
	b := <-batches
	if b.Skipped != 1 || len(b.Events) != 2 || b.Events[0].Seq != 2 || b.HeadSeq != 3 {
		t.Fatalf("first batch %+v", b)
	}
	write(t, s, item("messages", "b", `{}`))
	b = <-batches
	if len(b.Events) != 1 || b.Events[0].Seq != 4 || b.Events[0].Topic != "b" || b.Skipped != 0 {
		t.Fatalf("live batch %+v", b)
	}

	// a stale epoch restarts from seq 1 and says so
	go func() {
		_ = s.Watch(ctx, "messages", 99, "old-epoch", false, func(b *WatchBatch) error { batches <- keep(b); return nil })
	}()
	b = <-batches
	if !b.Reset || b.Events[0].Seq != 2 || b.Skipped != 1 {
		t.Fatalf("reset batch %+v", b)
	}
	// from head: an empty first batch, then only new events
	go func() {
		_ = s.Watch(ctx, "messages", 0, "", true, func(b *WatchBatch) error { batches <- keep(b); return nil })
	}()
	b = <-batches
	if len(b.Events) != 0 || b.HeadSeq != 4 {
		t.Fatalf("from head %+v", b)
	}
	if err := s.Watch(ctx, "messages", 1000, s.Epoch(), false, func(*WatchBatch) error { return nil }); err != ErrAheadOfHead {
		t.Errorf("ahead of head: %v", err)
	}
}

func TestConcurrentWritesAndReads(t *testing.T) {
	s := newSvc(t, 100, 1000)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				write(t, s, item("messages", fmt.Sprint("t", w), `{"x":1}`))
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Watch(ctx, "messages", 0, "", false, func(b *WatchBatch) error {
			for _, e := range b.Events {
				got = append(got, e.Seq)
			}
			if len(got) == 800 {
				cancel()
			}
			return nil
		})
	}()
	for i := 0; i < 50; i++ {
		_, _ = s.GetSince(context.Background(), "messages", AllTopics, 0, ReadOpts{Limit: 100})
		_, _ = s.ListTopics("messages")
	}
	wg.Wait()
	<-done
	for i, seq := range got {
		if seq != uint64(i+1) {
			t.Fatalf("watch order broken at %d: %d", i, seq)
		}
	}
	if len(got) != 800 {
		t.Errorf("watch saw %d of 800", len(got))
	}
}

// TestRenderKeepNewest: both truncation paths of get_recent (estimate short
// or long) keep the newest events that fit, in ascending order.
func TestRenderKeepNewest(t *testing.T) {
	s := newSvc(t, 100, 100)
	for i := 1; i <= 20; i++ {
		write(t, s, item("messages", "a", fmt.Sprintf(`{"x":"%s"}`, strings.Repeat("y", i*10))))
	}
	full, _ := s.GetRecent(context.Background(), "messages", "a", ReadOpts{Limit: 20})
	for _, max := range []int{0, 50, 300, 1500, 4000, len(full.Items), len(full.Items) - 1, 100000} {
		r, _ := s.GetRecent(context.Background(), "messages", "a", ReadOpts{Limit: 20, MaxBytes: max})
		got := seqs(t, r)
		if max > 0 && len(r.Items) > max {
			t.Errorf("max %d: %d bytes", max, len(r.Items))
		}
		if r.Truncated != (max > 0 && max < len(full.Items)) {
			t.Errorf("max %d: truncated %v", max, r.Truncated)
		}
		for i := range got {
			if got[i] != uint64(20-len(got)+1+i) {
				t.Errorf("max %d: kept %v", max, got)
				break
			}
		}
		// the newest that fit: one more would not
		if n := len(got); r.Truncated && n < 20 {
			more := events(t, full)[20-n-1:]
			size := 2 + len(more) - 1
			for _, e := range more {
				size += len(e)
			}
			if size <= max {
				t.Errorf("max %d: kept %d, %d would fit", max, n, n+1)
			}
		}
	}
}

func TestRetentionCounters(t *testing.T) {
	s := newSvc(t, 100, 2)
	for i := 0; i < 5; i++ {
		write(t, s, item("messages", "a", `{"k":1}`))
	}
	write(t, s, item("messages", "b", `{}`), item("messages", "b", `{}`))
	h := s.Heads()[1]
	if h.Retained != 4 || h.Evicted != 3 || h.RetainedBytes <= 0 {
		t.Fatalf("after writes: %+v", h)
	}
	write(t, s, replace("messages", "a")) // removes the topic: not an eviction
	h = s.Heads()[1]
	if h.Retained != 2 || h.Evicted != 3 {
		t.Fatalf("after replace: %+v", h)
	}
	write(t, s, replace("messages", "b"))
	if h = s.Heads()[1]; h.Retained != 0 || h.RetainedBytes != 0 {
		t.Fatalf("empty store still accounts memory: %+v", h)
	}
}

func TestExpiredItemsSkipped(t *testing.T) {
	s := newSvc(t, 100, 100)
	past := time.Now().Add(-time.Millisecond).UnixNano()
	future := time.Now().Add(time.Hour).UnixNano()
	op := func(deadline int64) Op {
		return Op{Store: "messages", Topic: "a", Payloads: [][]byte{[]byte(`{}`)}, Deadline: deadline}
	}
	resp := write(t, s, op(future), op(past), op(0), op(past))
	got := []mpv1.Reject{}
	for _, r := range resp.Items {
		got = append(got, reject(r))
	}
	want := []mpv1.Reject{mpv1.Reject_REJECT_NONE, mpv1.Reject_REJECT_EXPIRED, mpv1.Reject_REJECT_NONE, mpv1.Reject_REJECT_EXPIRED}
	if !slices.Equal(got, want) || resp.Items[0].Seq != 1 || resp.Items[2].Seq != 2 {
		t.Fatalf("results %v, want %v with seqs 1 and 2", resp.Items, want)
	}
	if h := s.Heads()[1]; h.HeadSeq != 2 || h.Retained != 2 {
		t.Fatalf("expired items were stored: %+v", h)
	}
}

func eq(key, value string) []Equal { return []Equal{{Key: event.StrKey(key), Value: value}} }
