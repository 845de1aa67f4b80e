package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/test/testenv"
)

// durableCluster starts every service with the JetStream store in a
// directory of its own, whatever MP_E2E_STORE says.
func durableCluster(t *testing.T) *testenv.Cluster {
	cl := testenv.NewCluster(t, map[string]string{"MP_STORE_BACKEND": "jetstream", "MP_STORE_DATA_DIR": t.TempDir(),
		"MP_RPC_STORE_TIMEOUT": "1s"})
	cl.StartStore(nil)
	cl.StartRPC(nil)
	cl.StartIngest(nil)
	cl.StartPub(nil)
	return cl
}

// crashStore kills the store (the all-in-one process in that mode) with
// SIGKILL and starts it again on the same data.
func crashStore(t *testing.T, cl *testenv.Cluster) {
	t.Helper()
	cl.Store.Kill()
	cl.Store.Restart()
	for _, addr := range []string{cl.StoreHTTP, cl.RPCHTTP, cl.IngestHTTP, cl.PubHTTP} {
		testenv.WaitReady(t, addr, 30*time.Second)
	}
}

type published struct {
	seq     uint64
	payload string
}

// TestCrashLosesNothing: kill -9 of the store while publishes and pushes
// stream in, then a restart: every publish answered OK is there with its
// seq and payload, every event seen before the kill is there, every pushed
// item is stored once, the epoch is the same, and a subscriber resuming
// with get_since after the last seq it saw on PUB sees no gap and no
// duplicate. A second kill with nothing in flight must leave list_topics
// and every event exactly as they were.
func TestCrashLosesNothing(t *testing.T) {
	cl := durableCluster(t)
	c := dial(t, cl.RPC, client.JSON)
	epoch := mustOK(t, c, "health", nil)["epoch"]
	sub := subscribe(t, cl.PUB, "messages.", "events.", "export.probe")
	probe(t, c, sub)

	var (
		mu      sync.Mutex
		ok      []published
		pushed  atomic.Int64
		stop    = make(chan struct{})
		writers sync.WaitGroup
	)
	for w := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			wc, err := client.Dial(cl.RPC, client.Options{Timeout: 3 * time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			defer wc.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				payload := fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)
				r, err := wc.Call(context.Background(), "bus.publish", map[string]any{"topic": fmt.Sprintf("crash.%d", w), "payload": json.RawMessage(payload)})
				if err != nil || !r.OK {
					time.Sleep(10 * time.Millisecond) // the store is down: try again soon
					continue
				}
				var res struct {
					Event struct {
						Seq uint64 `json:"seq"`
					} `json:"event"`
				}
				if err := json.Unmarshal(r.Result, &res); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ok = append(ok, published{res.Event.Seq, canonical(payload)})
				mu.Unlock()
			}
		}()
	}
	p := newPusher(t, cl.Ingest)
	push := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			items := make([]map[string]any, 10)
			for i := range items {
				items[i] = map[string]any{"store": "events", "topic": "crash.ingest", "payload": map[string]any{"p": pushed.Add(1)}}
			}
			p.send(t, encode(t, client.JSON, map[string]any{"kind": "delta", "items": items}))
			time.Sleep(2 * time.Millisecond)
		}
	}

	push(time.Second)
	var seenBeforeKill []subMsg
	for len(sub.ch) > 0 {
		seenBeforeKill = append(seenBeforeKill, <-sub.ch)
	}
	crashStore(t, cl)
	push(time.Second)
	close(stop)
	writers.Wait()

	if got := mustOK(t, c, "health", nil)["epoch"]; got != epoch {
		t.Fatalf("epoch %v after the crash, %v before", got, epoch)
	}
	stored := map[uint64]string{}
	for _, ev := range readAll(t, c, "messages", "") {
		b, _ := json.Marshal(ev["payload"])
		stored[uint64(ev["seq"].(float64))] = string(b)
	}
	if len(ok) == 0 {
		t.Fatal("no publish was answered OK")
	}
	for _, pub := range ok {
		if stored[pub.seq] != pub.payload {
			t.Fatalf("publish answered OK with seq %d (%s) reads back as %q", pub.seq, pub.payload, stored[pub.seq])
		}
	}
	for _, m := range seenBeforeKill {
		if m.store != "messages" {
			continue
		}
		var ev struct {
			Payload json.RawMessage `json:"payload"`
		}
		_ = json.Unmarshal(m.body, &ev)
		if stored[m.seq] != canonical(string(ev.Payload)) {
			t.Fatalf("event seq %d seen on PUB before the kill reads back as %q", m.seq, stored[m.seq])
		}
	}
	// Every pushed item is stored once (ingest retries what the store had
	// not confirmed; the store knows what it had recorded).
	want := int(pushed.Load())
	eventually(t, 30*time.Second, 50*time.Millisecond, "pushed items not all stored", func() bool {
		return len(readAll(t, c, "events", "crash.ingest")) >= want
	})
	seen := map[float64]bool{}
	for _, ev := range readAll(t, c, "events", "crash.ingest") {
		n := ev["payload"].(map[string]any)["p"].(float64)
		if seen[n] {
			t.Fatalf("pushed item %v stored twice", n)
		}
		seen[n] = true
	}
	if len(seen) != want {
		t.Fatalf("%d of %d pushed items stored", len(seen), want)
	}
	// A subscriber that saw up to seq L before the kill resumes with
	// get_since(L): with what it saw, every seq from 1 to the head, once.
	last := uint64(0)
	var seqs []uint64
	for _, m := range seenBeforeKill {
		if m.store == "messages" {
			seqs = append(seqs, m.seq)
			last = m.seq
		}
	}
	for _, ev := range readAllAfter(t, c, "messages", last) {
		seqs = append(seqs, uint64(ev["seq"].(float64)))
	}
	head := uint64(mustOK(t, c, "bus.get_since", map[string]any{"limit": 1})["head_seq"].(float64))
	for i, seq := range seqs {
		if seq != uint64(i+1) {
			t.Fatalf("resumed subscriber: seq %d at position %d (gap or duplicate); head %d", seq, i, head)
		}
	}

	// Nothing in flight: a kill -9 changes nothing a client can see.
	before := everything(t, c)
	crashStore(t, cl)
	if after := everything(t, c); !maps.Equal(after, before) {
		t.Fatalf("after a kill with nothing in flight:\n%v\nbefore:\n%v", after, before)
	}
}

// canonical is JSON as encoding/json writes it again (keys sorted), so
// payloads compare whatever the order they were written in.
func canonical(js string) string {
	var v any
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		return js
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// readAllAfter pages through get_since after seq over every topic.
func readAllAfter(t testing.TB, c *client.Client, store string, after uint64) []map[string]any {
	t.Helper()
	var out []map[string]any
	for {
		its := items(mustOK(t, c, "bus.get_since", map[string]any{"store": store, "after_seq": after, "limit": 10000}))
		if len(its) == 0 {
			return out
		}
		out = append(out, its...)
		after = uint64(its[len(its)-1]["seq"].(float64))
	}
}

// everything is what a client can see: per store the list_topics answer
// and every event, as JSON.
func everything(t testing.TB, c *client.Client) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, store := range []string{"messages", "events"} {
		lt := mustOK(t, c, "bus.list_topics", map[string]any{"store": store})
		b, _ := json.Marshal(lt)
		out[store+" topics"] = string(b)
		evs := readAll(t, c, store, "")
		b, _ = json.Marshal(evs)
		out[store+" events"] = string(b)
	}
	out["keys"] = fmt.Sprint(slices.Sorted(maps.Keys(out)))
	return out
}
