package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/internal/zmqx"
)

// TestPublishOrderPerConnection: docs/PROTOCOL.md "RPC server": publishes
// one client pipelines to one store get increasing seqs in the order the
// server received them, and PUB rebroadcasts them in that order. 8 DEALERs
// each send 1000 publishes without waiting (4 topics, 2 stores, JSON and
// msgpack mixed), all at once, so the edge coalesces them into shared
// store writes.
func TestPublishOrderPerConnection(t *testing.T) {
	const conns, perConn = 8, 1000
	stores := []string{"runs", "events"}
	cl := startAll(t)
	c := dial(t, cl.RPC, client.JSON)
	sub := subscribe(t, cl.PUB, "runs.", "events.", "export.probe")
	probe(t, c, sub)

	errs := make(chan error, conns)
	for k := 0; k < conns; k++ {
		go func() { errs <- pipelinePublishes(cl.RPC, k, perConn, stores) }()
	}
	for k := 0; k < conns; k++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	// In the store: per store, each connection's publishes in seq order
	// carry increasing i, and none is missing.
	for _, store := range stores {
		var seqs []uint64
		var ids []orderID
		for _, ev := range readAll(t, c, store, "") {
			id := orderIDOf(t, ev["payload"])
			ids = append(ids, id)
			seqs = append(seqs, uint64(ev["seq"].(float64)))
		}
		checkOrder(t, "get_since "+store, seqs, ids, conns, perConn/len(stores))
	}

	// On PUB: the same order, every event once.
	got := map[string][]orderID{}
	pubSeqs := map[string][]uint64{}
	want := conns * perConn
	deadline := time.After(30 * time.Second)
	for n := 0; n < want; {
		select {
		case m := <-sub.ch:
			if m.store == "export" {
				continue // a late probe
			}
			var ev struct {
				Payload json.RawMessage `json:"payload"`
			}
			if err := json.Unmarshal(m.body, &ev); err != nil {
				t.Fatalf("PUB frame %q: %v", m.body, err)
			}
			var p any
			_ = json.Unmarshal(ev.Payload, &p)
			got[m.store] = append(got[m.store], orderIDOf(t, p))
			pubSeqs[m.store] = append(pubSeqs[m.store], m.seq)
			n++
		case <-deadline:
			t.Fatalf("PUB delivered %d of %d events", n, want)
		}
	}
	for _, store := range stores {
		checkOrder(t, "PUB "+store, pubSeqs[store], got[store], conns, perConn/len(stores))
	}
}

type orderID struct{ conn, i int }

func orderIDOf(t testing.TB, payload any) orderID {
	t.Helper()
	m, ok := payload.(map[string]any)
	if !ok {
		t.Fatalf("payload %v", payload)
	}
	conn, ok1 := m["conn"].(float64)
	i, ok2 := m["i"].(float64)
	if !ok1 || !ok2 {
		t.Fatalf("payload %v", payload)
	}
	return orderID{int(conn), int(i)}
}

// checkOrder: seqs strictly increase, and each connection's ids appear with
// increasing i, perConn of them each.
func checkOrder(t testing.TB, what string, seqs []uint64, ids []orderID, conns, perConn int) {
	t.Helper()
	last := map[int]int{}
	count := map[int]int{}
	for j, id := range ids {
		if j > 0 && seqs[j] <= seqs[j-1] {
			t.Fatalf("%s: seq %d after %d", what, seqs[j], seqs[j-1])
		}
		if prev, ok := last[id.conn]; ok && id.i <= prev {
			t.Fatalf("%s: connection %d's publish %d stored after its publish %d (seq %d)", what, id.conn, id.i, prev, seqs[j])
		}
		last[id.conn] = id.i
		count[id.conn]++
	}
	for k := 0; k < conns; k++ {
		if count[k] != perConn {
			t.Fatalf("%s: connection %d has %d events, want %d", what, k, count[k], perConn)
		}
	}
}

// pipelinePublishes sends n publishes from one DEALER without waiting, then
// reads every reply; each must be accepted.
func pipelinePublishes(endpoint string, conn, n int, stores []string) error {
	zctx, err := zmqx.NewContext()
	if err != nil {
		return err
	}
	defer zctx.Term()
	s, err := zmqx.NewSocket(zctx, zmqx.DEALER, zmqx.Options{SndHWM: 100000, RcvHWM: 100000})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Connect(endpoint); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		req := map[string]any{"v": 1, "req_id": fmt.Sprintf("c%d-%d", conn, i), "op": "bus.publish", "args": map[string]any{
			"store": stores[i%len(stores)], "topic": fmt.Sprintf("order.t%d", i%4),
			"payload": map[string]any{"conn": conn, "i": i},
		}}
		enc := client.JSON
		if (i+conn)%2 == 1 {
			enc = client.Msgpack
		}
		body, err := encodeBody(enc, req)
		if err != nil {
			return err
		}
		if _, err := s.SendBytes(body, 0); err != nil {
			return err
		}
	}
	p := zmqx.NewPoller()
	p.Add(s, zmqx.POLLIN)
	for got := 0; got < n; got++ {
		polled, err := p.Poll(20 * time.Second)
		if err != nil {
			return err
		}
		if len(polled) == 0 {
			return fmt.Errorf("connection %d: %d of %d replies", conn, got, n)
		}
		body, err := s.RecvBytes(0)
		if err != nil {
			return err
		}
		var reply struct {
			OK    bool            `json:"ok"`
			Error json.RawMessage `json:"error"`
		}
		if err := decodeBody(body, &reply); err != nil {
			return err
		}
		if !reply.OK {
			return fmt.Errorf("connection %d: publish refused: %s", conn, reply.Error)
		}
	}
	return nil
}

func encodeBody(enc client.Encoding, v any) ([]byte, error) {
	if enc == client.Msgpack {
		return msgpack.Marshal(v)
	}
	return json.Marshal(v)
}

// decodeBody decodes a JSON or msgpack reply into v (through JSON), with
// an independent msgpack decoder.
func decodeBody(body []byte, v any) error {
	if len(body) > 0 && body[0] == '{' {
		return json.Unmarshal(body, v)
	}
	var m map[string]any
	if err := msgpack.Unmarshal(body, &m); err != nil {
		return err
	}
	js, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(js, v)
}
