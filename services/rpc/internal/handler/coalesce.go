package handler

import (
	"context"
	"fmt"
	"sync"
	"time"

	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
)

// maxCoalesced bounds the publishes one store write carries.
const maxCoalesced = 1024

// coalescer groups concurrent publishes into one store write (group
// commit). A publish that finds fewer than maxWrites writes in flight
// writes at once, with whatever else is pending; publishes that arrive
// while writes are in flight wait and leave together in the next one. At
// low load a publish costs one store call, as before; under load one call
// carries many publishes.
type coalescer struct {
	store     mpv1.StoreClient
	timeout   time.Duration
	maxWrites int

	mu      sync.Mutex
	pending []*pending
	writing int
}

type pending struct {
	item     *mpv1.Item
	deadline time.Time // the caller's: arrival plus the store timeout
	done     chan published
}

type published struct {
	res *mpv1.WriteResult
	err error
}

func newCoalescer(store mpv1.StoreClient, timeout time.Duration) *coalescer {
	return &coalescer{store: store, timeout: timeout, maxWrites: 2}
}

// publish stores one item and returns its result.
func (c *coalescer) publish(item *mpv1.Item) (*mpv1.WriteResult, error) {
	p := &pending{item: item, deadline: time.Now().Add(c.timeout), done: make(chan published, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, p)
	write := c.writing < c.maxWrites
	if write {
		c.writing++
	}
	c.mu.Unlock()
	if write {
		c.writeNext()
	}
	r := <-p.done // every pending item is answered by some write
	return r.res, r.err
}

// writeNext sends one batch of pending publishes; if more are pending
// afterwards it hands the writing on to a new goroutine, so this caller's
// reply is not held back by other clients' publishes.
func (c *coalescer) writeNext() {
	c.mu.Lock()
	n := min(len(c.pending), maxCoalesced)
	batch := c.pending[:n:n]
	c.pending = append([]*pending(nil), c.pending[n:]...)
	c.mu.Unlock()

	if len(batch) > 0 {
		c.write(batch)
	}

	c.mu.Lock()
	if len(c.pending) > 0 {
		c.mu.Unlock()
		go c.writeNext()
		return
	}
	c.writing--
	c.mu.Unlock()
}

func (c *coalescer) write(batch []*pending) {
	req := &mpv1.WriteRequest{ReturnEvents: true, Ops: make([]*mpv1.WriteOp, len(batch))}
	for i, p := range batch {
		req.Ops[i] = &mpv1.WriteOp{Op: &mpv1.WriteOp_Item{Item: p.item}}
	}
	// A shared write must answer its most impatient caller in time: its
	// deadline is the earliest of theirs, so no publish waits longer than
	// the store timeout even when it queued behind other writes.
	deadline := batch[0].deadline
	for _, p := range batch[1:] {
		if p.deadline.Before(deadline) {
			deadline = p.deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	resp, err := c.store.Write(ctx, req)
	cancel()
	if err == nil && len(resp.GetResults()) != len(batch) {
		err = fmt.Errorf("store answered %d results for %d items", len(resp.GetResults()), len(batch))
	}
	for i, p := range batch {
		if err != nil {
			p.done <- published{err: err}
		} else {
			p.done <- published{res: resp.Results[i]}
		}
	}
}
