package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/internal/zmqx"
)

// rawRelayed counts messages the baseline sink relayed.
var rawRelayed atomic.Uint64

// push sends n items in messages of `batch` items to an INGEST endpoint
// from one PUSH socket (owned by the calling goroutine). Each message is
// encoded as it is sent, as a plugin would: the baseline and Message Plane
// pay the same client cost on the same two cores.
func push(endpoint string, msgpackEnc bool, store string, topics, n, batch int) error {
	return pushRaw(endpoint, 100000, func(send func([]byte) error) error {
		for i := 0; i < n; i += batch {
			if err := send(deltaBody(msgpackEnc, store, topics, i, min(n, i+batch))); err != nil {
				return err
			}
		}
		return nil
	})
}

// deltaBody is an INGEST message of items from..to-1 spread over topics.
func deltaBody(msgpackEnc bool, store string, topics, from, to int) []byte {
	items := make([]any, 0, to-from)
	for j := from; j < to; j++ {
		items = append(items, map[string]any{"store": store, "topic": fmt.Sprintf("bench.%d", j%topics), "payload": payload250(j)})
	}
	return encodeBody(msgpackEnc, map[string]any{"kind": "delta", "items": items})
}

// stored returns how many items a deployment has taken in: the store's head
// seq (Message Plane) or the sink's relayed message count times batch (raw).
func (b *bench) stored(t endpoints, store string, batch int) (int, error) {
	if t.raw {
		return int(rawRelayed.Load()) * batch, nil
	}
	r, err := rpcCall(t.rpc, map[string]any{"op": "bus.get_since", "args": map[string]any{"store": store, "limit": 1}})
	if err != nil {
		return 0, err
	}
	var res struct {
		HeadSeq int `json:"head_seq"`
	}
	return res.HeadSeq, json.Unmarshal(r, &res)
}

// waitStored waits until want items arrived (or progress stops for 3 s)
// and returns the count and the time the last one arrived.
func (b *bench) waitStored(t endpoints, store string, batch, base, want int) (int, time.Time, error) {
	last, lastChange := -1, time.Now()
	for {
		n, err := b.stored(t, store, batch)
		if err != nil {
			return 0, time.Time{}, err
		}
		n -= base
		if n != last {
			last, lastChange = n, time.Now()
		}
		if n >= want || time.Since(lastChange) > 3*time.Second {
			return n, lastChange, nil
		}
		time.Sleep(5 * time.Millisecond) // ~0.3% of the shortest run
	}
}

// ingestRun pushes n items and returns items/s actually stored and the loss.
func (b *bench) ingestRun(t endpoints, msgpackEnc bool, store string, n, batch int) (float64, int, error) {
	if t.raw {
		batch = max(batch, 1)
	}
	base, err := b.stored(t, store, batch)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if err := push(t.ingest, msgpackEnc, store, 100, n, batch); err != nil {
		return 0, 0, err
	}
	got, at, err := b.waitStored(t, store, batch, base, n)
	if err != nil {
		return 0, 0, err
	}
	return float64(got) / at.Sub(start).Seconds(), n - got, nil
}

func (b *bench) ingest() error {
	for _, enc := range []string{"msgpack", "json"} {
		for _, batch := range []int{100, 1} {
			variant := fmt.Sprintf("%s batch=%d", enc, batch)
			if b.skip("ingest", variant) {
				continue
			}
			n := b.n(200000)
			if batch == 1 {
				n = b.n(50000)
			}
			var raws, mps []float64
			lost := 0
			for range b.reps {
				if b.raw != nil {
					r, _, err := b.ingestRun(*b.raw, enc == "msgpack", "", n, batch)
					if err != nil {
						return err
					}
					raws = append(raws, r)
				}
				m, l, err := b.ingestRun(b.mp, enc == "msgpack", "export", n, batch)
				if err != nil {
					return err
				}
				mps = append(mps, m)
				lost += l
			}
			b.addRaw("ingest", variant, "items/s", median(raws), median(mps))
			b.add("ingest", variant, "items lost", float64(lost))
		}
	}
	return nil
}

// rpcCall makes one JSON call and returns the result. Calls share one
// connection per endpoint: the ingest runs poll the store's head every few
// milliseconds, and a fresh ZMQ context and connection per poll cost the
// machine a good part of a core, taken from the services being measured.
func rpcCall(endpoint string, req map[string]any) (json.RawMessage, error) {
	c, err := rpcClient(endpoint, client.JSON)
	if err != nil {
		return nil, err
	}
	r, err := c.Call(context.Background(), req["op"].(string), req["args"])
	if err != nil {
		return nil, fmt.Errorf("%v: %w", req["op"], err)
	}
	return r.Result, nil
}

type clientKey struct {
	endpoint string
	enc      client.Encoding
}

var rpcClients = struct {
	sync.Mutex
	m map[clientKey]*client.Client
}{m: map[clientKey]*client.Client{}}

// rpcClient returns the shared client of an endpoint sending enc.
func rpcClient(endpoint string, enc client.Encoding) (*client.Client, error) {
	rpcClients.Lock()
	defer rpcClients.Unlock()
	k := clientKey{endpoint, enc}
	if c := rpcClients.m[k]; c != nil {
		return c, nil
	}
	c, err := client.Dial(endpoint, client.Options{Encoding: enc, Timeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	rpcClients.m[k] = c
	return c, nil
}

// metric reads one sample from an admin /metrics page.
func metric(addr, name string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, fmt.Errorf("%s not found at %s", name, addr)
}

// pushRaw runs fn with a send function on one PUSH socket queueing at most
// hwm messages.
func pushRaw(endpoint string, hwm int, fn func(send func([]byte) error) error) error {
	zctx, err := zmqx.NewContext()
	if err != nil {
		return err
	}
	defer zctx.Term()
	s, err := zmqx.NewSocket(zctx, zmqx.PUSH, zmqx.Options{SndHWM: hwm})
	if err == nil {
		err = s.Connect(endpoint)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(func(b []byte) error { _, err := s.SendBytes(b, 0); return err })
}
