package main

import (
	"fmt"
	"time"
)

// floodBatch is the batch size of the flooding PUSH client.
const floodBatch = 100

// rpcUnderIngest measures what ingest at full speed does to the latency of
// a plugin waiting for answers: msgpack C=1 W=1 publishes alone, then
// again while one PUSH client pushes batches of 100 into INGEST as fast as
// its socket takes them.
func (b *bench) rpcUnderIngest() error {
	const variant = "msgpack C=1 W=1"
	if b.skip("rpc-under-ingest", variant) {
		return nil
	}
	bodies := publishBodies(true, 1, b.n(5000))
	// Encoded up front and sent in turn: the client's CPU goes to pushing,
	// which is what presses on the server.
	batches := make([][]byte, 64)
	for i := range batches {
		batches[i] = deltaBody(true, "export", 100, i*floodBatch, (i+1)*floodBatch)
	}
	type figures struct {
		idle, loaded rpcResult
		rate         float64 // items/s taken in during the loaded run
	}
	measure := func(t endpoints) (f figures, err error) {
		if f.idle, err = publishLoad(t, 1, bodies); err != nil {
			return f, fmt.Errorf("%s idle: %w", t.name, err)
		}
		base, err := b.stored(t, "export", floodBatch)
		if err != nil {
			return f, err
		}
		stop := make(chan struct{})
		done := make(chan error, 1)
		sent := 0
		start := time.Now()
		go func() {
			var err error
			sent, err = flood(t.ingest, batches, stop)
			done <- err
		}()
		time.Sleep(200 * time.Millisecond) // ingest up to speed
		f.loaded, err = publishLoad(t, 1, bodies)
		got, serr := b.stored(t, "export", floodBatch)
		f.rate = float64(got-base) / time.Since(start).Seconds()
		close(stop)
		if ferr := <-done; err == nil {
			err = ferr
		}
		if err == nil {
			err = serr
		}
		if err != nil {
			return f, fmt.Errorf("%s under ingest: %w", t.name, err)
		}
		// Let what is queued drain, so the next scenario starts idle.
		_, _, err = b.waitStored(t, "export", floodBatch, base, sent)
		return f, err
	}
	var raw figures
	if b.raw != nil {
		var err error
		if raw, err = measure(*b.raw); err != nil {
			return err
		}
	}
	mp, err := measure(b.mp)
	if err != nil {
		return err
	}
	b.addRaw("rpc-under-ingest", variant, "p99 idle µs", us(raw.idle.p99), us(mp.idle.p99))
	b.addRaw("rpc-under-ingest", variant, "p99 with ingest µs", us(raw.loaded.p99), us(mp.loaded.p99))
	b.addRaw("rpc-under-ingest", variant, "p99 with/idle", ratioOf(raw.loaded.p99, raw.idle.p99), ratioOf(mp.loaded.p99, mp.idle.p99))
	b.addRaw("rpc-under-ingest", variant, "ingest items/s", raw.rate, mp.rate)
	b.add("rpc-under-ingest", variant, "failed requests", float64(mp.idle.failed+mp.loaded.failed))
	return nil
}

func ratioOf(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// flood pushes batches in turn from one PUSH socket until stop closes and
// returns how many items it sent. The socket queues few messages, so what
// it sent is about what the server took.
func flood(endpoint string, batches [][]byte, stop <-chan struct{}) (int, error) {
	sent := 0
	err := pushRaw(endpoint, 64, func(send func([]byte) error) error {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return nil
			default:
			}
			if err := send(batches[i%len(batches)]); err != nil {
				return err
			}
			sent += floodBatch
		}
	})
	return sent, err
}
