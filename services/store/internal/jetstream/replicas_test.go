package jetstream_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/messageplane/mp/services/store/internal/jetstream"
	"github.com/messageplane/mp/services/store/internal/store"
)

// natsServer runs a JetStream server with a loopback listener, as the
// store replicas of a deployment share one.
func natsServer(t *testing.T) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true, MaxPayload: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

// TestReplicasShowTheSameLog: two replicas writing at once, each into
// topics the other writes too, end up showing the same events with the
// same seqs and no gap, and agree on the epoch.
func TestReplicasShowTheSameLog(t *testing.T) {
	url := natsServer(t)
	a, stopA := openLog(t, jetstream.Config{URL: url}, 1000)
	defer stopA()
	b, stopB := openLog(t, jetstream.Config{URL: url}, 1000)
	defer stopB()
	if a.Epoch() != b.Epoch() {
		t.Fatalf("epochs %s and %s", a.Epoch(), b.Epoch())
	}
	var wg sync.WaitGroup
	for r, s := range []*store.Service{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				ops := []store.Op{appendOp("messages", fmt.Sprintf("t%d", i%3), fmt.Sprintf(`{"r":%d,"i":%d}`, r, i))}
				if i%10 == 0 { // several records in one write, interleaved with the other replica's
					ops = append(ops, appendOp("messages", "t0", `{"more":1}`), appendOp("messages", "t1", `{"more":2}`))
				}
				write(t, s, &store.Batch{Ops: ops})
			}
		}()
	}
	wg.Wait()
	// Both have taken every record once their heads agree.
	deadline := time.Now().Add(10 * time.Second)
	for a.Heads()[1].HeadSeq != b.Heads()[1].HeadSeq && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	sa, sb := snapshot(t, a), snapshot(t, b)
	if sa != sb {
		t.Fatalf("replica a shows\n%s\nreplica b shows\n%s", sa, sb)
	}
	if h := a.Heads()[1].HeadSeq; h != 2*(200+2*20) {
		t.Fatalf("head %d, want %d", h, 2*(200+2*20))
	}
}

// TestRetryThroughAnotherReplica: a producer's batch retried through the
// other replica right away (before that replica's view shows the first
// try) is answered with the first try's seqs and stored once.
func TestRetryThroughAnotherReplica(t *testing.T) {
	url := natsServer(t)
	a, stopA := openLog(t, jetstream.Config{URL: url}, 1000)
	defer stopA()
	b, stopB := openLog(t, jetstream.Config{URL: url}, 1000)
	defer stopB()
	batch := &store.Batch{Producer: "ingest-1", Number: 3, Ops: []store.Op{appendOp("messages", "a", `{"i":1}`), appendOp("events", "a", `{"i":2}`)}}
	first := write(t, a, batch)
	again := write(t, b, batch)
	if !reflect.DeepEqual(seqsOf(again), seqsOf(first)) {
		t.Fatalf("retry answered seqs %v, first %v", seqsOf(again), seqsOf(first))
	}
	for _, s := range []*store.Service{a, b} {
		if h := s.Heads(); h[0].HeadSeq+h[1].HeadSeq != 2 {
			t.Fatalf("the retry was stored again: %+v", h)
		}
	}
}
