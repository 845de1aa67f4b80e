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
	"github.com/messageplane/mp/test/testenv"
)

// clusterWait is the longest any client may wait for an answer while a
// NATS node or a store replica dies.
const clusterWait = 3 * time.Second

// electionPause is the longest writes may pause when a NATS node dies:
// JetStream's longest leader election (9 s) and an acknowledgement lost
// with the old leader (3 s, the store's wait for one).
const electionPause = 12 * time.Second

// TestClusterSurvivesNodeAndReplicaLoss: two store replicas over a 3-node
// JetStream cluster (streams with 3 replicas), the edges spread over both.
// Under publishes, pushes and 4 subscribers, kill -9 one NATS node and
// later one store replica (and restart both): every publish answered OK is
// stored exactly once, every pushed item once, subscribers that resume by
// get_since see every seq once and in order, no client waits longer than
// 3 s for an answer, and publishes are answered OK again once JetStream
// has elected new leaders. Run by make test-cluster (MP_E2E_CLUSTER=1).
func TestClusterSurvivesNodeAndReplicaLoss(t *testing.T) {
	if os.Getenv("MP_E2E_CLUSTER") == "" {
		t.Skip("a 3-node NATS cluster and two store replicas: make test-cluster (MP_E2E_CLUSTER=1)")
	}
	nats := testenv.StartNATS(t, 3)
	var stores []*testenv.Proc
	var storeAddrs, storeHTTP []string
	for range 2 {
		addr, http := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		storeAddrs, storeHTTP = append(storeAddrs, addr), append(storeHTTP, http)
		stores = append(stores, testenv.Start(t, "store", map[string]string{
			"MP_STORE_BACKEND": "jetstream", "MP_NATS_URL": nats.URL(), "MP_JETSTREAM_REPLICAS": "3",
			"MP_STORE_LISTEN": addr, "MP_HTTP_ADDR": http, "MP_TOPIC_MAXLEN": "1000000", // every pushed item stays to be counted
		}))
	}
	for _, h := range storeHTTP {
		testenv.WaitReady(t, h, 60*time.Second)
	}
	epoch := ""
	cl := testenv.NewCluster(t, map[string]string{"MP_STORE_ADDR": storeAddrs[0] + "," + storeAddrs[1], "MP_RPC_STORE_TIMEOUT": "1500ms"})
	cl.StartRPC(nil)
	cl.StartIngest(nil)
	cl.StartPub(nil)
	c := dial(t, cl.RPC, client.JSON)
	for range 4 { // the RPC edge asks both replicas in turn: they agree on the epoch
		e := mustOK(t, c, "health", nil)["epoch"].(string)
		if epoch != "" && e != epoch {
			t.Fatalf("replicas disagree on the epoch: %s and %s", epoch, e)
		}
		epoch = e
	}
	var subs []*subscriber
	for range 4 {
		subs = append(subs, subscribe(t, cl.PUB, "messages.", "export.probe"))
	}
	probe(t, c, subs...)

	var (
		mu       sync.Mutex
		answered = map[string]uint64{} // payload id -> seq of each publish answered OK
		slowest  atomic.Int64
		lastOK   atomic.Int64 // when a publish was last answered OK (unix ns)
		maxGap   atomic.Int64 // the longest time no publish was answered OK
		pushed   atomic.Int64
		stop     = make(chan struct{})
		writers  sync.WaitGroup
		failures atomic.Int64
	)
	for w := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			wc, err := client.Dial(cl.RPC, client.Options{Timeout: 2 * clusterWait})
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
				id := fmt.Sprintf("w%d-%d", w, i)
				start := time.Now()
				r, err := wc.Call(context.Background(), "bus.publish", map[string]any{"topic": fmt.Sprintf("cluster.%d", w), "payload": map[string]any{"id": id}})
				if d := time.Since(start); int64(d) > slowest.Load() {
					slowest.Store(int64(d))
				}
				if err != nil || !r.OK {
					failures.Add(1)
					time.Sleep(20 * time.Millisecond)
					continue
				}
				var res struct {
					Event struct {
						Seq uint64 `json:"seq"`
					} `json:"event"`
				}
				_ = json.Unmarshal(r.Result, &res)
				mu.Lock()
				answered[id] = res.Event.Seq
				now := time.Now().UnixNano()
				if gap := now - lastOK.Load(); gap > maxGap.Load() {
					maxGap.Store(gap)
				}
				lastOK.Store(now)
				mu.Unlock()
			}
		}()
	}
	p := newPusher(t, cl.Ingest)
	writers.Add(1)
	go func() { // the pusher's socket stays with its goroutine
		defer writers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			items := make([]map[string]any, 10)
			for i := range items {
				items[i] = map[string]any{"store": "events", "topic": "cluster.ingest", "payload": map[string]any{"p": pushed.Add(1)}}
			}
			p.send(t, encode(t, client.JSON, map[string]any{"kind": "delta", "items": items}))
			time.Sleep(5 * time.Millisecond)
		}
	}()

	// Subscribers follow PUB and fill gaps with get_since.
	type follow struct {
		seqs []uint64
		dups int
	}
	follows := make([]*follow, len(subs))
	var followers sync.WaitGroup
	followStop := make(chan struct{})
	for i, s := range subs {
		f := &follow{}
		follows[i] = f
		followers.Add(1)
		go func() {
			defer followers.Done()
			fc, err := client.Dial(cl.RPC, client.Options{Timeout: 2 * clusterWait})
			if err != nil {
				t.Error(err)
				return
			}
			defer fc.Close()
			last := uint64(0)
			catchUp := func(upTo uint64) {
				for last < upTo {
					r, err := fc.Call(context.Background(), "bus.get_since", map[string]any{"after_seq": last, "limit": 1000})
					if err != nil || !r.OK {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					var res struct {
						Items []struct {
							Seq uint64 `json:"seq"`
						} `json:"items"`
					}
					_ = json.Unmarshal(r.Result, &res)
					if len(res.Items) == 0 {
						return
					}
					for _, it := range res.Items {
						if it.Seq > upTo {
							return
						}
						f.seqs = append(f.seqs, it.Seq)
						last = it.Seq
					}
				}
			}
			for {
				select {
				case m := <-s.ch:
					if m.store != "messages" {
						continue
					}
					switch {
					case m.seq <= last:
						f.dups++
					default:
						catchUp(m.seq - 1)
						f.seqs = append(f.seqs, m.seq)
						last = m.seq
					}
				case <-followStop:
					head := uint64(mustOK(t, c, "bus.get_since", map[string]any{"limit": 1})["head_seq"].(float64))
					catchUp(head)
					return
				}
			}
		}()
	}

	lastOK.Store(time.Now().UnixNano())
	step := func(what string, f func()) {
		time.Sleep(2 * time.Second)
		mu.Lock()
		n := len(answered)
		mu.Unlock()
		t.Logf("%s (so far %d publishes answered OK, %d items pushed)", what, n, pushed.Load())
		f()
	}
	leader := 2
	step("kill -9 of the NATS node that leads the messages stream", func() {
		if l := nats.StreamLeader(t, "MP_messages"); l >= 0 {
			leader = l
		}
		t.Logf("node n%d", leader)
		nats.Nodes[leader].Kill()
	})
	step("the NATS node back", func() { nats.Nodes[leader].Restart() })
	step("kill -9 of a store replica", func() { stores[1].Kill() })
	step("the store replica back", func() {
		stores[1].Restart()
		testenv.WaitReady(t, storeHTTP[1], 60*time.Second)
	})
	time.Sleep(2 * time.Second)
	close(stop)
	writers.Wait()
	// Writes to a store pause while JetStream elects a new leader for its
	// stream (4 to 9 s after a leader's kill -9, by its raft timeouts);
	// every call is still answered (UNAVAILABLE) within clusterWait.
	gap := time.Duration(max(maxGap.Load(), time.Now().UnixNano()-lastOK.Load()))
	if gap > electionPause {
		t.Errorf("for %v no publish was answered OK (at most %v)", gap.Round(time.Millisecond), electionPause)
	}

	// Every publish answered OK is there once, with its seq.
	count := map[string]int{}
	for _, ev := range readSettled(t, c, "messages", "") {
		if id, isID := ev["payload"].(map[string]any)["id"].(string); isID {
			count[id]++
			if seq, was := answered[id]; was && uint64(ev["seq"].(float64)) != seq {
				t.Errorf("publish %s answered seq %d reads back as seq %v", id, seq, ev["seq"])
			}
		}
	}
	if len(answered) == 0 {
		t.Fatal("no publish was answered OK")
	}
	for id := range answered {
		if count[id] != 1 {
			t.Errorf("publish %s answered OK is stored %d times", id, count[id])
		}
	}
	want := int(pushed.Load())
	storedAll := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !storedAll; time.Sleep(100 * time.Millisecond) {
		storedAll = len(readSettled(t, c, "events", "cluster.ingest")) >= want
	}
	seen := map[float64]int{}
	for _, ev := range readSettled(t, c, "events", "cluster.ingest") {
		seen[ev["payload"].(map[string]any)["p"].(float64)]++
	}
	if !storedAll {
		var missing []float64
		for n := 1; n <= want; n++ {
			if seen[float64(n)] == 0 {
				missing = append(missing, float64(n))
			}
		}
		t.Errorf("%d of %d pushed items not stored after 30 s, from %v; ingest received %v, stored %v, dropped %v, pending %v", len(missing), want,
			missing[:min(len(missing), 20)], testenv.Metric(t, cl.IngestHTTP, "mp_ingest_items_received_total"),
			testenv.Metric(t, cl.IngestHTTP, "mp_ingest_items_stored_total"), testenv.Metric(t, cl.IngestHTTP, `mp_ingest_dropped_total{reason="store_error"}`),
			testenv.Metric(t, cl.IngestHTTP, "mp_ingest_pending_items"))
	}
	for n, k := range seen {
		if k != 1 {
			t.Errorf("pushed item %v stored %d times", n, k)
		}
	}
	if len(seen) != want {
		t.Errorf("%d of %d pushed items stored", len(seen), want)
	}
	close(followStop)
	followers.Wait()
	for i, f := range follows {
		for k, seq := range f.seqs {
			if k > 0 && seq != f.seqs[k-1]+1 {
				t.Fatalf("subscriber %d: seq %d after %d", i, seq, f.seqs[k-1])
			}
		}
		if f.dups > 0 {
			t.Errorf("subscriber %d got %d events twice on PUB", i, f.dups)
		}
	}
	for i, h := range storeHTTP {
		t.Logf("store replica %d: head seq messages %v events %v; log resumes messages %v events %v", i,
			testenv.Metric(t, h, `mp_store_head_seq{store="messages"}`), testenv.Metric(t, h, `mp_store_head_seq{store="events"}`),
			testenv.Metric(t, h, `mp_store_log_resumes_total{store="messages"}`), testenv.Metric(t, h, `mp_store_log_resumes_total{store="events"}`))
	}
	if d := time.Duration(slowest.Load()); d > clusterWait {
		t.Errorf("a client waited %v for an answer (at most %v)", d, clusterWait)
	}
	t.Logf("%d publishes answered OK, %d not; %d items pushed; slowest answer %v; longest without a publish answered OK %v",
		len(answered), failures.Load(), want, time.Duration(slowest.Load()).Round(time.Millisecond), gap.Round(time.Millisecond))
}

// readSettled is readAll for a system that may still answer UNAVAILABLE
// for a moment (a replica catching up with what the connection saw): it
// retries as a client would, for at most 10 s.
func readSettled(t *testing.T, c *client.Client, store, topic string) []map[string]any {
	t.Helper()
	var out []map[string]any
	after := uint64(0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		args := map[string]any{"store": store, "after_seq": after, "limit": 10000}
		if topic != "" {
			args["topic"] = topic
		}
		r, err := c.Call(context.Background(), "bus.get_since", args)
		if err != nil || !r.OK {
			if time.Now().After(deadline) {
				t.Fatalf("bus.get_since %v: %v %v", args, err, r)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var res struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(r.Result, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Items) == 0 {
			return out
		}
		out = append(out, res.Items...)
		after = uint64(res.Items[len(res.Items)-1]["seq"].(float64))
	}
}
