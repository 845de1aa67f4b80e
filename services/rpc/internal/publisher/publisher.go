// Package publisher stores the RPC edge's publishes: the socket owner
// submits them in the order it received them, and they are written to the
// store in that order, many per store write (group commit). So publishes
// that one client pipelines are stored in its order (docs/PROTOCOL.md "RPC
// server"), however many clients publish at once.
//
// Each publish carries its caller's deadline into the store, which skips
// items whose deadline has passed (REJECT_EXPIRED) instead of storing
// them: a caller answered UNAVAILABLE was not stored, and one answered with
// its event was. A store in this process is written synchronously by the
// goroutine that flushes; a remote store through one gRPC stream on which
// batches are pipelined and answered in order.
package publisher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"

	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
)

// Store is what the publisher needs of the store link.
type Store interface {
	Write(ctx context.Context, in *mpv1.WriteRequest, opts ...grpc.CallOption) (*mpv1.WriteResponse, error)
	WriteStream(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[mpv1.WriteRequest, mpv1.WriteResponse], error)
}

// Done receives a publish's outcome: its result (an event or a store
// rejection), or an error when the store did not answer in time.
type Done func(res *mpv1.WriteResult, err error)

// ErrUnavailable is the outcome of a publish the store did not confirm in
// time (or whose stream broke before it answered).
var ErrUnavailable = errors.New("store did not confirm the write in time")

// Config bounds the store writes.
type Config struct {
	// InProcess writes synchronously, from Flush (a store in this process).
	InProcess bool
	// Timeout is each publish's deadline, from Submit.
	Timeout time.Duration
	// Grace is how long past its deadline a publish waits for the store's
	// verdict before it is answered UNAVAILABLE without one: the store has
	// skipped it by then unless it applied it just in time.
	Grace time.Duration
	// BatchItems and BatchBytes bound one store write (one item always
	// fits); InFlight bounds the writes pipelined on the stream.
	BatchItems, BatchBytes, InFlight int
}

type pending struct {
	item     *mpv1.Item
	expires  time.Time // deadline + grace: answered UNAVAILABLE then
	done     Done
	answered bool
}

type batch struct {
	items []*pending
	bytes int
}

// Publisher orders and batches publishes.
type Publisher struct {
	cfg   Config
	store Store
	log   *slog.Logger

	mu       sync.Mutex
	queue    []*pending // submitted, not yet written (oldest first)
	inFlight []*batch   // written on the stream, oldest first
	send     chan *batch
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// New returns a publisher writing to store. Close stops it.
func New(cfg Config, store Store, log *slog.Logger) *Publisher {
	cfg.BatchItems = max(cfg.BatchItems, 1)
	cfg.InFlight = max(cfg.InFlight, 1)
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{cfg: cfg, store: store, log: log, ctx: ctx, cancel: cancel}
	if !cfg.InProcess {
		p.send = make(chan *batch, cfg.InFlight)
		p.wg.Add(1)
		go p.stream()
	}
	return p
}

// Submit queues one publish; done is called exactly once, from Flush (a
// store in this process), from Expire, or from the stream's goroutine.
// Submit and Flush must be called from one goroutine, in receive order.
func (p *Publisher) Submit(item *mpv1.Item, done Done) {
	now := time.Now()
	item.Deadline = now.Add(p.cfg.Timeout).UnixNano()
	pd := &pending{item: item, expires: now.Add(p.cfg.Timeout + p.cfg.Grace), done: done}
	p.mu.Lock()
	p.queue = append(p.queue, pd)
	p.mu.Unlock()
}

// Flush writes what was submitted: at once for a store in this process,
// else as soon as the stream has room.
func (p *Publisher) Flush() {
	if p.cfg.InProcess {
		p.mu.Lock()
		queue := p.queue
		p.queue = nil
		p.mu.Unlock()
		for len(queue) > 0 {
			b := p.take(&queue)
			p.writeNow(b)
		}
		return
	}
	p.mu.Lock()
	p.pump()
	p.mu.Unlock()
}

// take cuts the next batch off the front of queue.
func (p *Publisher) take(queue *[]*pending) *batch {
	b := &batch{}
	q := *queue
	n := 0
	for n < len(q) && n < p.cfg.BatchItems {
		size := len(q[n].item.Payload) + len(q[n].item.Topic) + len(q[n].item.Store) + 32
		if n > 0 && b.bytes+size > p.cfg.BatchBytes {
			break
		}
		b.bytes += size
		n++
	}
	b.items = q[:n:n]
	*queue = q[n:]
	return b
}

func request(b *batch) *mpv1.WriteRequest {
	req := &mpv1.WriteRequest{ReturnEvents: true, Ops: make([]*mpv1.WriteOp, len(b.items))}
	ops := make([]mpv1.WriteOp, len(b.items))
	wrappers := make([]mpv1.WriteOp_Item, len(b.items))
	for i, pd := range b.items {
		wrappers[i].Item = pd.item
		ops[i].Op = &wrappers[i]
		req.Ops[i] = &ops[i]
	}
	return req
}

// latest is the deadline of a batch's most patient caller: the store skips
// each item past its own deadline, so the call may run that long.
func latest(b *batch) time.Time {
	return time.Unix(0, b.items[len(b.items)-1].item.Deadline)
}

// writeNow writes one batch synchronously (a store in this process).
func (p *Publisher) writeNow(b *batch) {
	ctx, cancel := context.WithDeadline(p.ctx, latest(b))
	resp, err := p.store.Write(ctx, request(b))
	cancel()
	p.answer(b, resp, err)
}

// answer hands each caller of b its outcome, unless Expire already did.
func (p *Publisher) answer(b *batch, resp *mpv1.WriteResponse, err error) {
	if err == nil && len(resp.GetResults()) != len(b.items) {
		err = fmt.Errorf("store answered %d results for %d items", len(resp.GetResults()), len(b.items))
	}
	for i, pd := range b.items {
		if !p.claim(pd) {
			continue
		}
		if err != nil {
			pd.done(nil, fmt.Errorf("%w: %w", ErrUnavailable, err))
		} else {
			pd.done(resp.Results[i], nil)
		}
	}
}

// claim marks pd answered; false if it already was.
func (p *Publisher) claim(pd *pending) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pd.answered {
		return false
	}
	pd.answered = true
	return true
}

// Expire answers UNAVAILABLE every publish still waiting for the store at
// now past its deadline and grace, and returns when the next one expires
// (zero when none waits). The socket owner calls it as it polls.
func (p *Publisher) Expire(now time.Time) (next time.Time) {
	var expired []*pending
	p.mu.Lock()
	check := func(pd *pending) bool {
		if pd.answered {
			return true
		}
		if !now.Before(pd.expires) {
			pd.answered = true
			expired = append(expired, pd)
			return true
		}
		if next.IsZero() || pd.expires.Before(next) {
			next = pd.expires
		}
		return false
	}
	// Publishes expire in submit order: stop at the first that has not.
	stopped := false
	for _, b := range p.inFlight {
		for _, pd := range b.items {
			if !check(pd) {
				stopped = true
				break
			}
		}
		if stopped {
			break
		}
	}
	if !stopped {
		for len(p.queue) > 0 && check(p.queue[0]) {
			p.queue = p.queue[1:] // expired before it was sent: never written
		}
	}
	p.mu.Unlock()
	for _, pd := range expired {
		pd.done(nil, ErrUnavailable)
	}
	return next
}

// Close stops the stream and answers UNAVAILABLE whatever has no answer
// yet. A graceful stop waits for the answers first (Pending).
func (p *Publisher) Close() {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	queue := p.queue
	p.queue = nil
	p.mu.Unlock()
	if len(queue) > 0 {
		p.answer(&batch{items: queue}, nil, errors.New("shutting down"))
	}
}

// pump moves queued publishes onto the stream while it has room (mu held).
func (p *Publisher) pump() {
	for len(p.queue) > 0 && len(p.inFlight) < p.cfg.InFlight {
		b := p.take(&p.queue)
		p.inFlight = append(p.inFlight, b)
		p.send <- b // room: at most InFlight batches are in flight
	}
}

// stream keeps one WriteStream open: a sender writes batches in order, this
// goroutine reads the answers, which come in the same order.
func (p *Publisher) stream() {
	defer p.wg.Done()
	backoff := 20 * time.Millisecond
	for p.ctx.Err() == nil {
		err := p.runStream()
		p.failInFlight(err)
		if p.ctx.Err() != nil {
			return
		}
		p.log.Warn("store write stream broken; reopening", "err", err)
		select {
		case <-time.After(backoff):
		case <-p.ctx.Done():
			return
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (p *Publisher) runStream() error {
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	ws, err := p.store.WriteStream(ctx, grpc.WaitForReady(true))
	if err != nil {
		return err
	}
	sendErr := make(chan error, 1)
	go func() {
		for {
			select {
			case b := <-p.send:
				if err := ws.Send(request(b)); err != nil {
					sendErr <- err
					return
				}
			case <-ctx.Done():
				sendErr <- ctx.Err()
				return
			}
		}
	}()
	// Batches queued while the stream was down go now.
	p.mu.Lock()
	p.pump()
	p.mu.Unlock()
	for {
		resp, err := ws.Recv()
		if err != nil {
			cancel()
			<-sendErr
			return err
		}
		p.mu.Lock()
		if len(p.inFlight) == 0 {
			p.mu.Unlock()
			return errors.New("store answered a write that was not sent")
		}
		b := p.inFlight[0]
		p.inFlight = p.inFlight[1:]
		p.pump()
		p.mu.Unlock()
		p.answer(b, resp, nil)
	}
}

// failInFlight answers every batch sent on a broken stream UNAVAILABLE:
// whether the store applied them is unknown, and re-sending them could
// store them twice or out of order.
func (p *Publisher) failInFlight(err error) {
	p.mu.Lock()
	failed := p.inFlight
	p.inFlight = nil
	for len(p.send) > 0 {
		<-p.send // sent nowhere: they are in failed too
	}
	p.mu.Unlock()
	for _, b := range failed {
		p.answer(b, nil, err)
	}
}
