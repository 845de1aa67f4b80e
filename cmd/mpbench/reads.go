package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// reads measures read latency on 10,000 events in one topic.
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
	if err := pushBodies(b.mp.ingest, 10, zbody); err != nil {
		return err
	}
	if got, _, err := b.waitStored(b.mp, store, 1, base, 10000); err != nil || got < 10000 {
		return fmt.Errorf("reads setup stored %d of 10000: %v", got, err)
	}
	cases := []struct {
		name   string
		args   map[string]any
		op     string
		n      int
		target time.Duration
	}{
		{"get_recent 100", map[string]any{"topic": topic, "limit": 100}, "bus.get_recent", 500, 300 * time.Microsecond},
		{"get_recent 10000", map[string]any{"topic": topic, "limit": 10000}, "bus.get_recent", 30, 15 * time.Millisecond},
		{"query plugin_id+priority_min", map[string]any{"topic": topic, "plugin_id": "bench-plugin", "priority_min": 5, "limit": 1000}, "bus.query", 200, 3 * time.Millisecond},
		{"replay filter+sort+limit", map[string]any{"plan": map[string]any{"op": "limit", "params": map[string]any{"n": 100},
			"input": map[string]any{"op": "sort", "params": map[string]any{"by": "priority", "reverse": true},
				"input": map[string]any{"op": "filter", "params": map[string]any{"priority_min": 5},
					"input": map[string]any{"op": "topic", "params": map[string]any{"topic": topic}}}}}}, "bus.replay", 200, 0},
		{"get_since after 0 limit 1000", map[string]any{"topic": topic, "after_seq": 0, "limit": 1000}, "bus.get_since", 200, 3 * time.Millisecond},
	}
	for _, c := range cases {
		if b.skip("reads", c.name) {
			continue
		}
		c.args["store"] = store
		bodies := make([][]byte, b.n(c.n))
		for i := range bodies {
			bodies[i], _ = json.Marshal(map[string]any{"v": 1, "op": c.op, "args": c.args, "req_id": strconv.Itoa(i)})
		}
		r, err := rpcLoad(b.mp.rpc, 1, 1, len(bodies), func(_, i int) []byte { return bodies[i] })
		if err != nil {
			return err
		}
		var check func(row) bool
		tgt := ""
		if c.target > 0 {
			limit := us(c.target)
			check = func(r row) bool { return r.mp <= limit }
			tgt = fmt.Sprintf("<= %.0f", limit)
		}
		b.add(row{scenario: "reads", variant: c.name, metric: "p50 µs", mp: us(r.p50), check: check, target: tgt})
		b.add(row{scenario: "reads", variant: c.name, metric: "p99 µs", mp: us(r.p99)})
		b.add(row{scenario: "reads", variant: c.name, metric: "reply bytes", mp: float64(r.bytes)})
		if r.failed > 0 {
			b.add(row{scenario: "reads", variant: c.name, metric: "failed", mp: float64(r.failed), check: zeroTarget})
		}
	}
	return nil
}

// pushBodies sends n bodies from one PUSH socket.
func pushBodies(endpoint string, n int, body func(from int) []byte) error {
	return pushRaw(endpoint, func(send func([]byte) error) error {
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
	b.add(row{scenario: "memory", variant: fmt.Sprintf("%d events", n), metric: "store RSS MB", mp: rss / 1e6,
		check: func(r row) bool { return r.mp <= 600 }, target: "<= 600"})
	return nil
}
