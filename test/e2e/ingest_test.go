package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/internal/zmqx"
	"github.com/messageplane/mp/test/testenv"
)

// pusher owns one PUSH socket (used from the test goroutine only).
type pusher struct {
	ctx  *zmqx.Context
	sock *zmqx.Socket
}

func newPusher(t testing.TB, endpoints ...string) *pusher {
	t.Helper()
	zctx, err := zmqx.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	s, err := zmqx.NewSocket(zctx, zmqx.PUSH, zmqx.Options{SndHWM: 100000})
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range endpoints {
		if err := s.Connect(ep); err != nil {
			t.Fatal(err)
		}
	}
	p := &pusher{ctx: zctx, sock: s}
	t.Cleanup(func() { s.Close(); zctx.Term() })
	return p
}

func (p *pusher) send(t testing.TB, frames ...[]byte) {
	t.Helper()
	for i, f := range frames {
		flag := zmqx.SNDMORE
		if i == len(frames)-1 {
			flag = 0
		}
		if _, err := p.sock.SendBytes(f, flag); err != nil {
			t.Fatal(err)
		}
	}
}

func encode(t testing.TB, enc client.Encoding, v any) []byte {
	t.Helper()
	var b []byte
	var err error
	if enc == client.Msgpack {
		b, err = msgpack.Marshal(v)
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll pages through get_since and returns every event of a topic.
func readAll(t testing.TB, c *client.Client, store, topic string) []map[string]any {
	t.Helper()
	var out []map[string]any
	after := 0.0
	for {
		args := map[string]any{"store": store, "after_seq": after, "limit": 10000}
		if topic != "" {
			args["topic"] = topic
		}
		res := mustOK(t, c, "bus.get_since", args)
		its := items(res)
		if len(its) == 0 {
			return out
		}
		out = append(out, its...)
		after = its[len(its)-1]["seq"].(float64)
	}
}

// waitStored polls until the store holds n events in store, or fails.
func waitStored(t testing.TB, c *client.Client, store string, n int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, 50*time.Millisecond, fmt.Sprintf("store %s holds fewer than %d events", store, n), func() bool {
		head := mustOK(t, c, "bus.get_since", map[string]any{"store": store, "limit": 1})["head_seq"]
		return int(head.(float64)) >= n
	})
}

func startIngest(t testing.TB, ingestEnv map[string]string) *testenv.Cluster {
	cl := testenv.NewCluster(t, nil)
	cl.StartStore(nil)
	cl.StartRPC(nil)
	cl.StartIngest(ingestEnv)
	return cl
}

// TestIngestBulkInOrder: 100,000 items in batches of 100, JSON and msgpack,
// all stored in the order sent.
func TestIngestBulkInOrder(t *testing.T) {
	cl := startIngest(t, nil)
	c := dial(t, cl.RPC, client.JSON)
	p := newPusher(t, cl.Ingest)
	const total, per = 100000, 100
	for _, e := range []struct {
		store string
		enc   client.Encoding
	}{{"events", client.JSON}, {"runs", client.Msgpack}} {
		for b := 0; b < total/per; b++ {
			its := make([]any, per)
			for i := range its {
				n := b*per + i
				its[i] = map[string]any{"store": e.store, "topic": fmt.Sprint("t", n%7), "payload": map[string]any{"n": n}}
			}
			p.send(t, encode(t, e.enc, map[string]any{"kind": "delta", "items": its}))
		}
	}
	for _, store := range []string{"events", "runs"} {
		waitStored(t, c, store, total, 60*time.Second)
		evs := readAll(t, c, store, "")
		if len(evs) != total {
			t.Fatalf("%s: %d events, want %d", store, len(evs), total)
		}
		for i, ev := range evs {
			if ev["seq"].(float64) != float64(i+1) || ev["payload"].(map[string]any)["n"].(float64) != float64(i) {
				t.Fatalf("%s: event %d out of order: %v", store, i, ev)
			}
		}
	}
	if got := testenv.Metric(t, cl.IngestHTTP, "mp_ingest_items_stored_total"); got != 2*total {
		t.Errorf("items stored metric %v", got)
	}
}

// TestIngestDrops: bad items are dropped and counted by reason; their good
// neighbours are stored.
func TestIngestDrops(t *testing.T) {
	cl := startIngest(t, map[string]string{"MP_TOPIC_NAME_MAX_LEN": "16", "MP_PAYLOAD_MAX_BYTES": "64"})
	c := dial(t, cl.RPC, client.JSON)
	p := newPusher(t, cl.Ingest)
	p.send(t, []byte(`{"kind":"delta","items":[
		{"topic":"good","payload":{"i":1}},
		1,
		{"topic":"good"},
		{"topic":"","payload":1},
		{"topic":5,"payload":1},
		{"topic":"`+strings.Repeat("x", 17)+`","payload":1},
		{"topic":"good","payload":{"s":"`+strings.Repeat("y", 80)+`"}},
		{"store":"nope","topic":"good","payload":1},
		{"topic":"good","payload":{"i":2}}]}`))
	p.send(t, []byte("garbage"))
	p.send(t, []byte(`{"kind":"delta","items":{}}`))
	p.send(t, []byte(`{"kind":"mystery","items":[1,2,3]}`))
	p.send(t, []byte(`{"kind":"snapshot","mode":"merge","items":[{}]}`))
	p.send(t, []byte("{}"), []byte("{}")) // multipart
	bin, _ := msgpack.Marshal(map[string]any{"kind": "delta", "items": []any{map[string]any{"topic": "good", "payload": map[string]any{"b": []byte{1}}}}})
	p.send(t, bin)
	p.send(t, []byte(`{"kind":"delta","items":[{"topic":"good","payload":{"i":3}}]}`))

	waitStored(t, c, "messages", 3, 10*time.Second)
	evs := readAll(t, c, "messages", "good")
	var got []float64
	for _, ev := range evs {
		got = append(got, ev["payload"].(map[string]any)["i"].(float64))
	}
	expect(t, "stored", got, []float64{1, 2, 3})
	want := map[string]float64{"bad_payload": 3, "topic_required": 1, "topic_invalid": 1, "topic_too_long": 1,
		"payload_too_large": 1, "invalid_store": 1, "decode_error": 2, "items_not_list": 1, "bad_kind": 4}
	for reason, n := range want {
		if got := testenv.Metric(t, cl.IngestHTTP, `mp_ingest_dropped_total{reason="`+reason+`"}`); got != n {
			t.Errorf("dropped %s = %v, want %v", reason, got, n)
		}
	}
	if !strings.Contains(cl.IngestP.Logs(), "dropped items") {
		t.Error("drops were not logged")
	}
}

// TestIngestSnapshots: replace (the default) and append.
func TestIngestSnapshots(t *testing.T) {
	cl := startIngest(t, nil)
	c := dial(t, cl.RPC, client.JSON)
	p := newPusher(t, cl.Ingest)
	payloads := func(evs []map[string]any) string {
		var s []string
		for _, ev := range evs {
			b, _ := json.Marshal(ev["payload"])
			s = append(s, string(b))
		}
		return strings.Join(s, " ")
	}
	p.send(t, []byte(`{"kind":"snapshot","store":"memory","topic":"state","items":[{"k":1},{"k":2}]}`))
	waitStored(t, c, "memory", 2, 10*time.Second)
	p.send(t, []byte(`{"kind":"snapshot","store":"memory","topic":"state","mode":"append","items":[{"k":3}]}`))
	waitStored(t, c, "memory", 3, 10*time.Second)
	expect(t, "after append", payloads(readAll(t, c, "memory", "state")), `{"k":1} {"k":2} {"k":3}`)
	p.send(t, []byte(`{"kind":"snapshot","bus":"memory","topic":"state","mode":"replace","items":[{"k":9},"x"]}`))
	waitStored(t, c, "memory", 4, 10*time.Second)
	evs := readAll(t, c, "memory", "state")
	expect(t, "after replace", payloads(evs), `{"k":9}`) // "x" is not an object: dropped
	expect(t, "new seqs", evs[0]["seq"], 4)
	info := mustOK(t, c, "bus.list_topics", map[string]any{"store": "memory"})["topics_info"].([]any)[0].(map[string]any)
	expect(t, "count_total restarts", info["count_total"], 1)
	// default store and topic
	p.send(t, []byte(`{"kind":"snapshot","items":[{"d":1}]}`))
	waitStored(t, c, "messages", 1, 10*time.Second)
	expect(t, "default topic", payloads(readAll(t, c, "messages", "snapshot.all")), `{"d":1}`)
	// a replace with no items removes the topic
	p.send(t, []byte(`{"kind":"snapshot","store":"memory","topic":"state","items":[]}`))
	eventually(t, 10*time.Second, 20*time.Millisecond, "empty replace did not remove the topic", func() bool {
		return len(mustOK(t, c, "bus.list_topics", map[string]any{"store": "memory"})["topics"].([]any)) == 0
	})
}

// TestIngestStorePaused: the store is stopped (SIGSTOP) for 3 s while a
// producer pushes; after it resumes every item is stored exactly once.
func TestIngestStorePaused(t *testing.T) {
	testenv.SplitOnly(t)
	cl := startIngest(t, map[string]string{"MP_INGEST_STORE_TIMEOUT": "500ms"})
	c := dial(t, cl.RPC, client.JSON)
	p := newPusher(t, cl.Ingest)
	const total = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total/10; i++ {
			its := make([]any, 10)
			for j := range its {
				its[j] = map[string]any{"topic": "paused", "payload": map[string]any{"n": i*10 + j}}
			}
			b, _ := json.Marshal(map[string]any{"kind": "delta", "items": its})
			if _, err := p.sock.SendBytes(b, 0); err != nil {
				t.Error(err)
				return
			}
			if i%100 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	cl.Store.Signal(syscall.SIGSTOP)
	time.Sleep(3 * time.Second)
	cl.Store.Signal(syscall.SIGCONT)
	<-done
	waitStored(t, c, "messages", total, 60*time.Second)
	time.Sleep(500 * time.Millisecond) // anything applied twice would show now
	evs := readAll(t, c, "messages", "paused")
	if len(evs) != total {
		t.Fatalf("%d events stored, want %d", len(evs), total)
	}
	for i, ev := range evs {
		if n := ev["payload"].(map[string]any)["n"].(float64); n != float64(i) {
			t.Fatalf("event %d holds item %v: lost, repeated or reordered", i, n)
		}
	}
	if testenv.Metric(t, cl.IngestHTTP, "mp_ingest_store_retries_total") == 0 {
		t.Log("note: no retries were needed")
	}
}

// TestIngestTwoReplicas: two ingest processes behind one PUSH socket.
func TestIngestTwoReplicas(t *testing.T) {
	cl := startIngest(t, nil)
	second, secondHTTP := cl.StartReplica("ingest")
	c := dial(t, cl.RPC, client.JSON)
	p := newPusher(t, cl.Ingest, second)
	time.Sleep(200 * time.Millisecond) // both connections up, so PUSH spreads the load
	const msgs = 2000
	for i := 0; i < msgs; i++ {
		p.send(t, []byte(fmt.Sprintf(`{"kind":"delta","items":[{"topic":"r","payload":{"n":%d}}]}`, i)))
	}
	waitStored(t, c, "messages", msgs, 30*time.Second)
	seen := map[float64]bool{}
	for _, ev := range readAll(t, c, "messages", "r") {
		seen[ev["payload"].(map[string]any)["n"].(float64)] = true
	}
	expect(t, "distinct items", len(seen), msgs)
	a := testenv.Metric(t, cl.IngestHTTP, "mp_ingest_items_stored_total")
	b := testenv.Metric(t, secondHTTP, "mp_ingest_items_stored_total")
	if a == 0 || b == 0 || a+b != msgs {
		t.Errorf("replicas stored %v and %v", a, b)
	}
}

// TestIngestDrainOnSIGTERM: items pushed before SIGTERM are all stored.
func TestIngestDrainOnSIGTERM(t *testing.T) {
	testenv.SplitOnly(t)
	cl := startIngest(t, nil)
	c := dial(t, cl.RPC, client.JSON)
	p := newPusher(t, cl.Ingest)
	for i := 0; i < 500; i++ {
		p.send(t, []byte(fmt.Sprintf(`{"kind":"delta","items":[{"topic":"d","payload":{"n":%d}}]}`, i)))
	}
	time.Sleep(100 * time.Millisecond)
	if err := cl.IngestP.Stop(15 * time.Second); err != nil {
		t.Fatalf("ingest exit: %v", err)
	}
	expect(t, "stored before exit", len(readAll(t, c, "messages", "d")), 500)
}
