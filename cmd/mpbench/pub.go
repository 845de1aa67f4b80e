package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/messageplane/mp/internal/zmqx"
)

// subCount is what one subscriber saw.
type subCount struct {
	events int
	first  time.Time
	last   time.Time
}

// subscribeAll starts n SUB sockets (each owned by its goroutine) counting
// messages on prefix; perMsg is how many events one message stands for.
func subscribeAll(ctx context.Context, endpoint, prefix string, n, perMsg int) ([]*subCount, func(), error) {
	counts := make([]*subCount, n)
	var wg sync.WaitGroup
	ready := make(chan error, n)
	for i := range counts {
		counts[i] = &subCount{}
		wg.Add(1)
		go func(c *subCount) {
			defer wg.Done()
			zctx, err := zmqx.NewContext()
			if err != nil {
				ready <- err
				return
			}
			defer zctx.Term()
			s, err := zmqx.NewSocket(zctx, zmqx.SUB, zmqx.Options{RcvHWM: 1000000})
			if err == nil {
				err = s.Connect(endpoint)
			}
			if err == nil {
				err = s.SetSubscribe(prefix)
			}
			ready <- err
			if err != nil {
				return
			}
			defer s.Close()
			loop(ctx, s, func([][]byte) {
				now := time.Now()
				if c.events == 0 {
					c.first = now
				}
				c.events += perMsg
				c.last = now
			})
		}(counts[i])
	}
	for range n {
		if err := <-ready; err != nil {
			return nil, nil, err
		}
	}
	return counts, wg.Wait, nil
}

func (b *bench) pubFanout() error {
	n := b.n(100000)
	for _, subs := range []int{1, 4} {
		if b.skip("pub-fanout", fmt.Sprintf("subscribers=%d", subs)) {
			continue
		}
		var rawRate, mpRate, storedRate float64
		lost := 0
		for _, t := range b.deployments() {
			ctx, cancel := context.WithCancel(context.Background())
			prefix, perMsg, batch := "export.", 1, 100
			if t.raw {
				prefix, perMsg = "", batch
			}
			counts, wait, err := subscribeAll(ctx, t.pub, prefix, subs, perMsg)
			if err != nil {
				cancel()
				return err
			}
			time.Sleep(500 * time.Millisecond) // let subscriptions reach the PUB socket
			start := time.Now()
			rate, _, err := b.ingestRun(t, true, "export", n, batch)
			if err != nil {
				cancel()
				return err
			}
			// Give subscribers until they stop receiving.
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				before := total(counts)
				time.Sleep(500 * time.Millisecond)
				if total(counts) == before {
					break
				}
			}
			cancel()
			wait()
			var perSub float64
			for _, c := range counts {
				if c.events > 0 {
					perSub += float64(c.events) / c.last.Sub(start).Seconds()
				}
				if !t.raw {
					lost += max(0, n-c.events)
				}
			}
			perSub /= float64(subs)
			if t.raw {
				rawRate = perSub
			} else {
				mpRate, storedRate = perSub, rate
			}
		}
		variant := fmt.Sprintf("subscribers=%d", subs)
		b.addRaw("pub-fanout", variant, "events/s per sub", rawRate, mpRate)
		b.add("pub-fanout", variant, "per sub / stored rate", mpRate/storedRate)
		b.add("pub-fanout", variant, "events lost", float64(lost))
	}
	return nil
}

func total(counts []*subCount) int {
	n := 0
	for _, c := range counts {
		n += c.events
	}
	return n
}
