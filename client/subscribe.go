package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// SubscribeOptions configure a Subscription.
type SubscribeOptions struct {
	// Prefix selects events whose "store.topic" starts with it: "" for
	// everything, "messages." for one store, "messages.plugin1." for a
	// family of topics.
	Prefix string
	// Since, when set, first delivers the events after that seq in every
	// matched store (read through bus.get_since); nil starts at each
	// store's current head.
	Since *int64
	// OnEpochChange is called (from Next, before the new epoch's first
	// event) when a store's epoch changes: the in-memory store restarted,
	// seqs start again at 1, and the subscription delivers the new epoch
	// from its start.
	OnEpochChange func(EpochChange)
	// OnGap is called (from Next) for seqs the subscription could not
	// deliver because the store no longer holds them (evicted by
	// MP_TOPIC_MAXLEN, or replaced by a snapshot) or they never existed.
	OnGap func(Gap)
	// IdleCheck: after this long without an event the subscription asks
	// each store for events it may have missed and for its epoch (default
	// 1s; negative disables).
	IdleCheck time.Duration
	// CatchUpLimit is the limit of each bus.get_since call (default 1000).
	CatchUpLimit int
	// RcvHWM bounds events queued in the SUB socket (default 100000);
	// beyond it the PUB edge drops, and the subscription catches up.
	RcvHWM int
}

// EpochChange reports a store whose epoch changed.
type EpochChange struct {
	Store string
	Old   string
	New   string
}

// Gap reports seqs From..To (inclusive) of Store that were not delivered
// because the store no longer holds them.
type Gap struct {
	Store    string
	From, To int64
}

func (g Gap) String() string { return fmt.Sprintf("%s seq %d..%d", g.Store, g.From, g.To) }

// Subscription delivers the events of a prefix in seq order per store,
// without gaps: a seq jump on the PUB stream (a slow-joiner miss, a
// subscriber that fell behind the PUB high-water mark, a pub edge restart)
// is filled through bus.get_since before the next event. Events of other
// topics of a matched store are received too (seqs are per store, so only
// the whole store's stream shows a gap) and filtered here.
//
// Next is for one goroutine at a time; Close may be called from any
// goroutine, also to end a Next that is waiting (it returns ErrClosed).
type Subscription struct {
	c        *Client
	opts     SubscribeOptions
	endpoint string
	stores   map[string]*position
	in       chan [][]byte
	stop     chan struct{}
	done     chan struct{}
	sockErr  error
	ready    []Event
	held     *Event // a live event waiting for its gap to be filled
	lastRecv time.Time
	closed   atomic.Bool
}

// position is how far a store's stream has been delivered.
type position struct {
	name  string
	epoch string
	last  int64
	// dupUntil: after a catch-up, PUB copies of events already delivered
	// (seq <= dupUntil) are expected and dropped without asking the
	// server; a seq at or below last outside that window may mean a new
	// epoch and is checked.
	dupUntil int64
	// pending: catch up from last to the head before the next event.
	pending bool
}

// Subscribe connects a SUB socket to the PUB endpoint pubEndpoint and
// subscribes to opts.Prefix; c (connected to the RPC endpoint) reads what
// the PUB stream missed. The Subscription does not own c.
func (c *Client) Subscribe(ctx context.Context, pubEndpoint string, opts SubscribeOptions) (*Subscription, error) {
	if opts.IdleCheck == 0 {
		opts.IdleCheck = time.Second
	}
	if opts.CatchUpLimit <= 0 {
		opts.CatchUpLimit = 1000
	}
	if opts.RcvHWM <= 0 {
		opts.RcvHWM = 100000
	}
	topics, err := c.ListTopics(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("subscribe: list stores: %w", err)
	}
	s := &Subscription{
		c: c, opts: opts, endpoint: Endpoint(pubEndpoint), stores: map[string]*position{},
		in: make(chan [][]byte, 1024), stop: make(chan struct{}), done: make(chan struct{}),
		lastRecv: time.Now(),
	}
	var filters []string
	for _, name := range topics.Stores {
		if p := name + "."; strings.HasPrefix(p, opts.Prefix) || strings.HasPrefix(opts.Prefix, p) {
			s.stores[name] = &position{name: name}
			filters = append(filters, p)
		}
	}
	if len(s.stores) == 0 {
		return nil, fmt.Errorf("subscribe: prefix %q matches no store of %v", opts.Prefix, topics.Stores)
	}
	ready := make(chan error, 1)
	go s.own(filters, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	// Subscribed first, positioned second: an event published in between
	// arrives on the stream and is either at or below the head (dropped)
	// or after it (delivered).
	for _, p := range s.stores {
		r, err := c.GetSince(ctx, SinceArgs{Store: p.name, Limit: 1, Light: true})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("subscribe: position in %s: %w", p.name, err)
		}
		p.epoch, p.last, p.dupUntil = r.Epoch, r.HeadSeq, r.HeadSeq
		if opts.Since != nil {
			p.last, p.dupUntil, p.pending = *opts.Since, 0, true
		}
	}
	return s, nil
}

// own creates, reads and closes the SUB socket, the only goroutine to touch
// it. A full s.in blocks it, so the SUB queue fills and the PUB edge drops:
// a slow consumer costs catch-up reads, never unbounded memory.
func (s *Subscription) own(filters []string, ready chan<- error) {
	defer close(s.done)
	o, err := open(zmq.SUB, s.endpoint, func(sk *zmq.Socket) error {
		errs := []error{sk.SetRcvhwm(s.opts.RcvHWM)}
		for _, f := range filters {
			errs = append(errs, sk.SetSubscribe(f))
		}
		return errors.Join(errs...)
	})
	ready <- err
	if err != nil {
		return
	}
	defer o.close()
	sock := o.sock
	poller := zmq.NewPoller()
	poller.Add(sock, zmq.POLLIN)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		if _, err := poller.Poll(100 * time.Millisecond); err != nil {
			s.sockErr = fmt.Errorf("poll %s: %w", s.endpoint, err)
			return
		}
		for {
			frames, err := sock.RecvMessageBytes(zmq.DONTWAIT)
			if err != nil {
				break
			}
			select {
			case s.in <- frames:
			case <-s.stop:
				return
			}
		}
	}
}

// Next returns the next event. Errors reading through RPC are returned and
// the subscription stays usable: the next call retries.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		if s.closed.Load() {
			return Event{}, ErrClosed
		}
		if err := s.settle(ctx); err != nil {
			return Event{}, err
		}
		if len(s.ready) > 0 {
			ev := s.ready[0]
			s.ready = s.ready[1:]
			return ev, nil
		}
		if err := s.wait(ctx); err != nil {
			return Event{}, err
		}
	}
}

// wait blocks for one PUB message (held for settle) or the idle check.
func (s *Subscription) wait(ctx context.Context) error {
	var idle <-chan time.Time
	if s.opts.IdleCheck > 0 {
		t := time.NewTimer(time.Until(s.lastRecv.Add(s.opts.IdleCheck)))
		defer t.Stop()
		idle = t.C
	}
	select {
	case frames := <-s.in:
		s.lastRecv = time.Now()
		if ev, ok := parseEvent(frames); ok {
			s.held = &ev
		}
	case <-idle:
		s.lastRecv = time.Now()
		for _, p := range s.stores {
			p.pending = true
		}
	case <-s.done:
		if s.sockErr != nil {
			return s.sockErr
		}
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// settle runs pending catch-ups and places the held live event.
func (s *Subscription) settle(ctx context.Context) error {
	for _, p := range s.stores {
		if p.pending {
			if err := s.catchUp(ctx, p, -1); err != nil {
				return err
			}
			p.pending = false
		}
	}
	if s.held == nil {
		return nil
	}
	ev := *s.held
	p := s.stores[ev.Store]
	if p == nil { // a store that appeared after Subscribe: follow it from here
		p = &position{name: ev.Store, last: ev.Seq - 1, pending: true}
		s.stores[ev.Store] = p
	}
	if ev.Seq <= p.dupUntil {
		s.held = nil
		return nil
	}
	p.dupUntil = 0 // the stream has passed the last catch-up
	switch {
	case ev.Seq == p.last+1:
	case ev.Seq > p.last+1:
		if err := s.catchUp(ctx, p, ev.Seq-1); err != nil {
			return err
		}
	default: // at or below what was delivered: a new epoch, or a stray copy
		if err := s.catchUp(ctx, p, -1); err != nil {
			return err
		}
	}
	s.held = nil
	if ev.Seq == p.last+1 {
		p.last = ev.Seq
		s.deliver(ev)
	}
	return nil
}

// catchUp reads p's events after p.last through bus.get_since, up to
// target (or the head when target < 0), and queues them for delivery.
func (s *Subscription) catchUp(ctx context.Context, p *position, target int64) error {
	for {
		r, err := s.c.GetSince(ctx, SinceArgs{Store: p.name, AfterSeq: p.last, Limit: s.opts.CatchUpLimit})
		if err != nil {
			return fmt.Errorf("catch up %s after seq %d: %w", p.name, p.last, err)
		}
		if r.Epoch != p.epoch {
			old := p.epoch
			p.epoch, p.last, p.dupUntil, target = r.Epoch, 0, 0, -1
			if old != "" && s.opts.OnEpochChange != nil {
				s.opts.OnEpochChange(EpochChange{Store: p.name, Old: old, New: r.Epoch})
			}
			continue
		}
		for _, ev := range r.Items {
			if ev.Seq <= p.last {
				continue
			}
			s.skip(p, ev.Seq-1)
			p.last = ev.Seq
			s.deliver(ev)
		}
		end := r.HeadSeq
		if target >= 0 && target < end {
			end = target
		}
		if p.last >= end || len(r.Items) == 0 {
			s.skip(p, end)
			p.dupUntil = p.last
			return nil
		}
	}
}

// skip moves p.last up to seq, reporting what was jumped over.
func (s *Subscription) skip(p *position, seq int64) {
	if seq > p.last {
		if s.opts.OnGap != nil {
			s.opts.OnGap(Gap{Store: p.name, From: p.last + 1, To: seq})
		}
		p.last = seq
	}
}

func (s *Subscription) deliver(ev Event) {
	if strings.HasPrefix(ev.Store+"."+ev.Topic, s.opts.Prefix) {
		s.ready = append(s.ready, ev)
	}
}

// parseEvent reads a PUB message [store.topic, event JSON]; anything else
// is ignored (the PUB edge sends nothing else).
func parseEvent(frames [][]byte) (Event, bool) {
	var ev Event
	if len(frames) != 2 || json.Unmarshal(frames[1], &ev) != nil || ev.Store == "" {
		return ev, false
	}
	return ev, true
}

// Position returns the epoch and the last seq delivered (or skipped) of a
// store: save it to resume later with SubscribeOptions.Since.
func (s *Subscription) Position(store string) (epoch string, seq int64) {
	if p := s.stores[store]; p != nil {
		return p.epoch, p.last
	}
	return "", 0
}

// Close stops the subscription (not its Client).
func (s *Subscription) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	<-s.done
	return nil
}
