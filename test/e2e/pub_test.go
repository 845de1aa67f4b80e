package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/internal/zmqx"
	"github.com/messageplane/mp/test/testenv"
)

// subMsg is one message received on a SUB socket.
type subMsg struct {
	topic string
	body  []byte
	seq   uint64
	store string
}

// subscriber owns a SUB socket in its own goroutine.
type subscriber struct {
	ch     chan subMsg
	cancel context.CancelFunc
	done   chan struct{}
}

func subscribe(t testing.TB, endpoint string, prefixes ...string) *subscriber {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscriber{ch: make(chan subMsg, 300000), cancel: cancel, done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(s.done)
		zctx, err := zmqx.NewContext()
		if err != nil {
			ready <- err
			return
		}
		defer zctx.Term()
		sock, err := zmqx.NewSocket(zctx, zmqx.SUB, zmqx.Options{RcvHWM: 1000000})
		if err == nil {
			err = sock.Connect(endpoint)
		}
		for _, p := range prefixes {
			if err == nil {
				err = sock.SetSubscribe(p)
			}
		}
		if err != nil {
			ready <- err
			return
		}
		defer sock.Close()
		ready <- nil
		poller := zmqx.NewPoller()
		poller.Add(sock, zmqx.POLLIN)
		for ctx.Err() == nil {
			polled, err := poller.Poll(50 * time.Millisecond)
			if err != nil || len(polled) == 0 {
				continue
			}
			for {
				frames, err := sock.RecvMessageBytes(zmqx.DONTWAIT)
				if err != nil {
					break
				}
				m := subMsg{topic: string(frames[0])}
				if len(frames) == 2 {
					m.body = frames[1]
					var ev struct {
						Seq   uint64 `json:"seq"`
						Store string `json:"store"`
					}
					_ = json.Unmarshal(m.body, &ev)
					m.seq, m.store = ev.Seq, ev.Store
				}
				s.ch <- m
			}
		}
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func (s *subscriber) stop() {
	s.cancel()
	<-s.done
}

// next returns the next message or fails after timeout.
func (s *subscriber) next(t testing.TB, timeout time.Duration) subMsg {
	t.Helper()
	select {
	case m := <-s.ch:
		return m
	case <-time.After(timeout):
		t.Fatal("no message on the SUB socket")
		return subMsg{}
	}
}

// probe publishes on a probe topic until the subscriber sees one (the slow
// joiner problem: a SUB misses what is sent before its subscription lands),
// then drains the probes.
func probe(t testing.TB, c *client.Client, subs ...*subscriber) {
	t.Helper()
	for _, s := range subs {
		deadline := time.Now().Add(10 * time.Second)
	wait:
		for {
			mustOK(t, c, "bus.publish", map[string]any{"store": "export", "topic": "probe", "payload": 1})
			select {
			case m := <-s.ch:
				if m.topic == "export.probe" {
					break wait
				}
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatal("subscriber never received a probe")
			}
		}
	}
	time.Sleep(200 * time.Millisecond)
	for _, s := range subs {
		for len(s.ch) > 0 {
			<-s.ch
		}
	}
}

func startAll(t testing.TB) *testenv.Cluster {
	cl := testenv.NewCluster(t, nil)
	cl.StartStore(nil)
	cl.StartRPC(nil)
	cl.StartIngest(nil)
	cl.StartPub(nil)
	return cl
}

// TestPubReceivesEveryIngestedItem: 100,000 items pushed through ingest all
// reach a subscriber connected beforehand, with consecutive seqs.
func TestPubReceivesEveryIngestedItem(t *testing.T) {
	cl := startAll(t)
	c := dial(t, cl.RPC, client.JSON)
	sub := subscribe(t, cl.PUB, "events.", "export.probe")
	probe(t, c, sub)
	p := newPusher(t, cl.Ingest)
	const total = 100000
	for b := 0; b < total/100; b++ {
		its := make([]any, 100)
		for i := range its {
			its[i] = map[string]any{"store": "events", "topic": fmt.Sprint("t", i%5), "payload": map[string]any{"n": b*100 + i}}
		}
		p.send(t, encode(t, client.Msgpack, map[string]any{"kind": "delta_batch", "items": its}))
	}
	for want := uint64(1); want <= total; want++ {
		m := sub.next(t, 30*time.Second)
		if m.seq != want || m.store != "events" {
			t.Fatalf("got %s seq %d, want events seq %d", m.topic, m.seq, want)
		}
	}
}

// TestPubMatchesRPCEvent: an RPC publish arrives on PUB as the very bytes of
// the event in the RPC reply; prefix filters select what arrives.
func TestPubMatchesRPCEvent(t *testing.T) {
	cl := startAll(t)
	c := dial(t, cl.RPC, client.JSON)
	all := subscribe(t, cl.PUB, "")
	only := subscribe(t, cl.PUB, "messages.plugin1.", "export.probe")
	probe(t, c, all, only)

	r := call(t, c, "bus.publish", map[string]any{"topic": "plugin1.output", "payload": map[string]any{"plugin_id": "plugin1", "content": "Hello ünïcode <&>", "priority": 5}})
	m := all.next(t, 5*time.Second)
	if m.topic != "messages.plugin1.output" {
		t.Fatalf("topic frame %q", m.topic)
	}
	if !bytes.Contains(r.Raw, m.body) {
		t.Errorf("PUB event is not the RPC reply's event:\npub   %s\nreply %s", m.body, r.Raw)
	}
	mustOK(t, c, "bus.publish", map[string]any{"topic": "plugin2.output", "payload": 1})
	mustOK(t, c, "bus.publish", map[string]any{"store": "events", "topic": "plugin1.x", "payload": 1})
	mustOK(t, c, "bus.publish", map[string]any{"topic": "plugin1.log", "payload": 1})
	expect(t, "all: 2nd", all.next(t, 5*time.Second).topic, "messages.plugin2.output")
	expect(t, "all: 3rd", all.next(t, 5*time.Second).topic, "events.plugin1.x")
	expect(t, "filtered: 1st", only.next(t, 5*time.Second).topic, "messages.plugin1.output")
	expect(t, "filtered: 2nd", only.next(t, 5*time.Second).topic, "messages.plugin1.log")
	select {
	case m := <-only.ch:
		t.Errorf("filtered subscriber got %s", m.topic)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestPubRestartCatchUp: the pub process is killed and restarted while
// events flow; a subscriber that catches up with bus.get_since from its last
// seq ends with every seq exactly once.
func TestPubRestartCatchUp(t *testing.T) {
	testenv.SplitOnly(t)
	cl := startAll(t)
	c := dial(t, cl.RPC, client.JSON)
	sub := subscribe(t, cl.PUB, "lifecycle.", "export.probe")
	probe(t, c, sub)

	const total = 3000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p := newPusher(t, cl.Ingest)
		for i := 0; i < total/10; i++ {
			its := make([]any, 10)
			for j := range its {
				its[j] = map[string]any{"store": "lifecycle", "topic": "l", "payload": map[string]any{"n": i*10 + j}}
			}
			b, _ := json.Marshal(map[string]any{"kind": "delta", "items": its})
			_, _ = p.sock.SendBytes(b, 0)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(150 * time.Millisecond)
	cl.Pub.Kill()
	time.Sleep(100 * time.Millisecond)
	cl.Pub.Restart()
	testenv.WaitReady(t, cl.PubHTTP, 10*time.Second)
	wg.Wait()
	waitStored(t, c, "lifecycle", total, 30*time.Second)

	// What a plugin does: take what arrived, then fill gaps with get_since.
	got := map[uint64]int{}
	var last uint64
	collect := func(seq uint64) {
		got[seq]++
	}
	deadline := time.After(2 * time.Second)
drain:
	for {
		select {
		case m := <-sub.ch:
			if m.store != "lifecycle" {
				continue
			}
			if m.seq > last+1 {
				// gap: catch up from the last seq seen
				for _, ev := range readSince(t, c, "lifecycle", last, m.seq-1) {
					collect(ev)
				}
			}
			if m.seq > last {
				collect(m.seq)
				last = m.seq
			}
		case <-deadline:
			break drain
		}
	}
	for _, ev := range readSince(t, c, "lifecycle", last, total) {
		collect(ev)
	}
	for seq := uint64(1); seq <= total; seq++ {
		if got[seq] != 1 {
			t.Fatalf("seq %d seen %d times", seq, got[seq])
		}
	}
	if len(got) != total {
		t.Fatalf("%d seqs, want %d", len(got), total)
	}
}

// readSince returns the seqs after `after` up to `upTo` from get_since.
func readSince(t testing.TB, c *client.Client, store string, after, upTo uint64) []uint64 {
	var out []uint64
	for after < upTo {
		res := mustOK(t, c, "bus.get_since", map[string]any{"store": store, "after_seq": after, "limit": 10000})
		its := items(res)
		if len(its) == 0 {
			break
		}
		for _, it := range its {
			seq := uint64(it["seq"].(float64))
			if seq > upTo {
				return out
			}
			out = append(out, seq)
			after = seq
		}
	}
	return out
}

// TestPubFollowsStoreRestart: after the store restarts (new epoch), events
// of the new epoch are published from seq 1.
func TestPubFollowsStoreRestart(t *testing.T) {
	testenv.SplitOnly(t)
	testenv.MemoryOnly(t)
	cl := startAll(t)
	c := dial(t, cl.RPC, client.JSON)
	sub := subscribe(t, cl.PUB, "messages.", "export.probe")
	probe(t, c, sub)
	mustOK(t, c, "bus.publish", map[string]any{"topic": "a", "payload": 1})
	mustOK(t, c, "bus.publish", map[string]any{"topic": "a", "payload": 2})
	expect(t, "seq", sub.next(t, 5*time.Second).seq, 1)
	expect(t, "seq", sub.next(t, 5*time.Second).seq, 2)

	cl.Store.Restart()
	testenv.WaitReady(t, cl.StoreHTTP, 10*time.Second)
	eventually(t, 10*time.Second, 100*time.Millisecond, "rpc did not recover", func() bool {
		return call(t, c, "bus.publish", map[string]any{"topic": "b", "payload": 3}).OK
	})
	m := sub.next(t, 10*time.Second)
	if m.seq != 1 || m.topic != "messages.b" {
		t.Fatalf("after store restart got %s seq %d, want messages.b seq 1", m.topic, m.seq)
	}
	testenv.WaitReady(t, cl.PubHTTP, 10*time.Second)
	if testenv.Metric(t, cl.PubHTTP, `mp_pub_epoch_resets_total{store="messages"}`) < 1 {
		t.Error("epoch reset not counted")
	}
}

// TestPubTwoReplicas: two pub edges each publish every event.
func TestPubTwoReplicas(t *testing.T) {
	cl := startAll(t)
	second, _ := cl.StartReplica("pub")
	c := dial(t, cl.RPC, client.JSON)
	a := subscribe(t, cl.PUB, "messages.", "export.probe")
	b := subscribe(t, second, "messages.", "export.probe")
	probe(t, c, a, b)
	for i := 0; i < 200; i++ {
		mustOK(t, c, "bus.publish", map[string]any{"topic": "two", "payload": i})
	}
	for _, s := range []*subscriber{a, b} {
		for want := uint64(1); want <= 200; want++ {
			if m := s.next(t, 5*time.Second); m.seq != want {
				t.Fatalf("replica got seq %d, want %d", m.seq, want)
			}
		}
	}
}
