package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/messageplane/mp/client"
)

// readEvents is how many events the reads run on; get_recent 10000 must
// return them all.
const readEvents = 10000

// reads measures read latency on 10,000 events in one topic, each read in
// JSON and in msgpack, against the raw echo's round trip of the same run.
func (b *bench) reads() error {
	const store, topic = "memory", "bench.reads"
	base, err := b.stored(b.mp, store, 1)
	if err != nil {
		return err
	}
	// 10,000 events in one topic, pushed as one snapshot append per 1000.
	zbody := func(from int) []byte {
		items := make([]any, 1000)
		for i := range items {
			items[i] = payload250(from + i)
		}
		return encodeBody(true, map[string]any{"kind": "snapshot", "store": store, "topic": topic, "mode": "append", "items": items})
	}
	if err := pushBodies(b.mp.ingest, readEvents/1000, zbody); err != nil {
		return err
	}
	if got, _, err := b.waitStored(b.mp, store, 1, base, readEvents); err != nil || got < readEvents {
		return fmt.Errorf("reads setup stored %d of %d: %v", got, readEvents, err)
	}
	var echo rpcResult
	if b.raw != nil {
		if echo, err = b.echo(); err != nil {
			return err
		}
	}
	cases := []struct {
		name  string
		args  map[string]any
		op    string
		n     int
		whole bool // must return every event
	}{
		{"get_recent 100", map[string]any{"topic": topic, "limit": 100}, "bus.get_recent", 500, false},
		{"get_recent 10000", map[string]any{"topic": topic, "limit": readEvents}, "bus.get_recent", 30, true},
		{"query plugin_id+priority_min", map[string]any{"topic": topic, "plugin_id": "bench-plugin", "priority_min": 5, "limit": 1000}, "bus.query", 200, false},
		{"replay filter+sort+limit", map[string]any{"plan": map[string]any{"op": "limit", "params": map[string]any{"n": 100},
			"input": map[string]any{"op": "sort", "params": map[string]any{"by": "priority", "reverse": true},
				"input": map[string]any{"op": "filter", "params": map[string]any{"priority_min": 5},
					"input": map[string]any{"op": "topic", "params": map[string]any{"topic": topic}}}}}}, "bus.replay", 200, false},
		{"get_since after 0 limit 1000", map[string]any{"topic": topic, "after_seq": 0, "limit": 1000}, "bus.get_since", 200, false},
	}
	failed := 0
	for _, c := range cases {
		c.args["store"] = store
		p50 := map[string]float64{}
		for _, enc := range []string{"json", "msgpack"} {
			variant := enc + " " + c.name
			if b.skip("reads", variant) {
				continue
			}
			bodies := make([][]byte, b.n(c.n))
			for i := range bodies {
				bodies[i] = encodeBody(enc == "msgpack", map[string]any{"v": 1, "op": c.op, "args": c.args, "req_id": strconv.Itoa(i)})
			}
			r, err := rpcLoad(b.mp.rpc, 1, 1, len(bodies), func(_, i int) []byte { return bodies[i] })
			if err != nil {
				return err
			}
			p50[enc] = us(r.p50)
			b.addRaw("reads", variant, "p50 µs", us(echo.p50), us(r.p50))
			b.addRaw("reads", variant, "p99 µs", us(echo.p99), us(r.p99))
			b.add("reads", variant, "reply bytes", float64(r.bytes))
			failed += r.failed
			if c.whole {
				n, err := countItems(b.mp.rpc, enc == "msgpack", c.op, c.args)
				if err != nil {
					return err
				}
				b.add("reads", variant, "items returned", float64(n))
			}
		}
		if p50["json"] > 0 && p50["msgpack"] > 0 {
			b.add("reads", c.name, "p50 msgpack/json", p50["msgpack"]/p50["json"])
		}
	}
	b.add("reads", "all", "failed requests", float64(failed))
	return nil
}

// countItems makes one read, outside any timing, and counts the items of
// its reply (none when it says it was truncated).
func countItems(endpoint string, msgpackEnc bool, op string, args map[string]any) (int, error) {
	enc := client.JSON
	if msgpackEnc {
		enc = client.Msgpack
	}
	c, err := rpcClient(endpoint, enc)
	if err != nil {
		return 0, err
	}
	r, err := c.Call(context.Background(), op, args)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	var res struct {
		Items     []json.RawMessage `json:"items"`
		Truncated bool              `json:"truncated"`
	}
	if err := r.Decode(&res); err != nil {
		return 0, fmt.Errorf("%s reply: %w", op, err)
	}
	if res.Truncated {
		return 0, nil
	}
	return len(res.Items), nil
}

// pushBodies sends n bodies from one PUSH socket.
func pushBodies(endpoint string, n int, body func(from int) []byte) error {
	return pushRaw(endpoint, 100000, func(send func([]byte) error) error {
		for i := 0; i < n; i++ {
			if err := send(body(i * 1000)); err != nil {
				return err
			}
		}
		return nil
	})
}

// memory fills the store with 1,000,000 events of ~250 bytes over 1,000
// topics and reads the store's resident memory.
func (b *bench) memory() error {
	const store = "lifecycle"
	n := b.n(1000000)
	variant := fmt.Sprintf("%d events", n)
	if b.skip("memory", variant) {
		return nil
	}
	base, err := b.stored(b.mp, store, 1)
	if err != nil {
		return err
	}
	if err := push(b.mp.ingest, true, store, 1000, n, 500); err != nil {
		return err
	}
	if got, _, err := b.waitStored(b.mp, store, 1, base, n); err != nil || got < n {
		return fmt.Errorf("memory setup stored %d of %d: %v", got, n, err)
	}
	rss, err := metric(b.mp.storeHTTP, "process_resident_memory_bytes")
	if err != nil {
		return err
	}
	b.add("memory", variant, "store RSS MB", rss/1e6)
	return nil
}
