package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/messageplane/mp/client"
)

// TestSoak runs concurrent RPC publishers, ingest pushers, four subscribers
// and readers against all four services for MP_SOAK_DURATION (make soak),
// then checks that nothing was lost or duplicated and no process died.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("MP_SOAK_DURATION"))
	if err != nil || d <= 0 {
		t.Skip("set MP_SOAK_DURATION (e.g. 3m) to run the soak test")
	}
	cl := startAll(t)
	c := dial(t, cl.RPC, client.Msgpack)
	subs := make([]*subscriber, 4)
	for i := range subs {
		subs[i] = subscribe(t, cl.PUB, "events.", "runs.", "export.probe")
	}
	probe(t, c, subs...)

	ctx, stop := context.WithTimeout(context.Background(), d)
	defer stop()
	var published, pushed, reads atomic.Int64
	var wg sync.WaitGroup
	// 4 RPC publishers into "events", about 250/s each
	for p := 0; p < 4; p++ {
		pc := dial(t, cl.RPC, encodings[p%2].enc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				r, err := pc.Call(context.Background(), "bus.publish", map[string]any{"store": "events",
					"topic": fmt.Sprintf("soak.%d", n%50), "payload": map[string]any{"id": fmt.Sprintf("rpc-%d-%d", p, n)}})
				if err != nil || !r.OK {
					t.Errorf("publish: %v", err)
					return
				}
				published.Add(1)
				time.Sleep(4 * time.Millisecond)
			}
		}()
	}
	// 2 ingest pushers into "runs", batches of 20, about 2000 items/s each
	for p := 0; p < 2; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			push := newPusher(t, cl.Ingest)
			for n := 0; ctx.Err() == nil; n++ {
				its := make([]any, 20)
				for i := range its {
					its[i] = map[string]any{"store": "runs", "topic": fmt.Sprintf("soak.%d", (n*20+i)%100), "payload": map[string]any{"id": fmt.Sprintf("ingest-%d-%d-%d", p, n, i)}}
				}
				b, _ := json.Marshal(map[string]any{"kind": "delta", "items": its})
				if _, err := push.sock.SendBytes(b, 0); err != nil {
					t.Errorf("push: %v", err)
					return
				}
				pushed.Add(20)
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	// 2 readers
	for p := 0; p < 2; p++ {
		rc := dial(t, cl.RPC, client.JSON)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				for _, req := range []struct {
					op   string
					args map[string]any
				}{
					{"bus.get_recent", map[string]any{"store": "events", "topic": "soak.1", "limit": 100}},
					{"bus.get_since", map[string]any{"store": "runs", "after_seq": 0, "limit": 500}},
					{"bus.query", map[string]any{"store": "runs", "topic": "*", "limit": 100}},
					{"bus.list_topics", map[string]any{"store": "events"}},
				} {
					if r, err := rc.Call(context.Background(), req.op, req.args); err != nil || !r.OK {
						t.Errorf("%s: %v", req.op, err)
						return
					}
					reads.Add(1)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	// subscribers: per store, seqs must arrive consecutive, exactly once
	last := make([]soakSeen, len(subs))
	var subErr atomic.Value
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		for {
			progressed := false
			for i, s := range subs {
				select {
				case m := <-s.ch:
					progressed = true
					var prev *uint64
					switch m.store {
					case "events":
						prev = &last[i].events
					case "runs":
						prev = &last[i].runs
					default:
						continue
					}
					if m.seq != *prev+1 {
						subErr.CompareAndSwap(nil, fmt.Sprintf("subscriber %d: %s seq %d after %d", i, m.store, m.seq, *prev))
					}
					*prev = m.seq
				default:
				}
			}
			if !progressed {
				time.Sleep(5 * time.Millisecond)
				if ctx.Err() != nil && allDone(last, published.Load(), pushed.Load()) {
					return
				}
			}
		}
	}()
	wg.Wait()
	t.Logf("published %d via RPC, pushed %d via ingest, %d reads", published.Load(), pushed.Load(), reads.Load())
	waitStored(t, c, "events", int(published.Load()), 60*time.Second)
	waitStored(t, c, "runs", int(pushed.Load()), 60*time.Second)
	select {
	case <-subDone:
	case <-time.After(60 * time.Second):
		t.Errorf("subscribers stopped short: %+v", last)
	}
	if e := subErr.Load(); e != nil {
		t.Error(e)
	}
	for store, want := range map[string]int64{"events": published.Load(), "runs": pushed.Load()} {
		ids := map[string]bool{}
		evs := readAll(t, c, store, "")
		for i, ev := range evs {
			if ev["seq"].(float64) != float64(i+1) {
				t.Fatalf("%s: seq %v at position %d", store, ev["seq"], i)
			}
			ids[ev["payload"].(map[string]any)["id"].(string)] = true
		}
		if int64(len(evs)) != want || int64(len(ids)) != want {
			t.Errorf("%s: %d events, %d distinct, want %d", store, len(evs), len(ids), want)
		}
	}
	for _, p := range []*struct {
		name string
		dead bool
	}{{"store", cl.Store.Exited()}, {"rpc", cl.RPCProc.Exited()}, {"ingest", cl.IngestP.Exited()}, {"pub", cl.Pub.Exited()}} {
		if p.dead {
			t.Errorf("%s died during the soak", p.name)
		}
	}
}

// soakSeen is the last seq a subscriber saw per store.
type soakSeen struct{ events, runs uint64 }

func allDone(last []soakSeen, published, pushed int64) bool {
	for _, l := range last {
		if l.events < uint64(published) || l.runs < uint64(pushed) {
			return false
		}
	}
	return true
}
