package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/vmihailenco/msgpack/v5"
)

// SnapshotMode says what a snapshot does to its topic.
type SnapshotMode string

const (
	// Replace atomically replaces the topic's retained events (an empty
	// snapshot removes the topic).
	Replace SnapshotMode = "replace"
	// Append appends the items as new events.
	Append SnapshotMode = "append"
)

// PusherOptions configure a Pusher.
type PusherOptions struct {
	Encoding Encoding
	// A delta batch is sent when it holds MaxItems items (default 500) or
	// MaxBytes encoded bytes (default 1 MiB), or about MaxDelay after its
	// first item (default 50ms).
	MaxItems int
	MaxBytes int
	MaxDelay time.Duration
	// SendTimeout bounds how long a message waits for a connected ingest
	// edge; then it fails with ErrNotSent (default 5s). Close waits as long
	// for queued messages to leave.
	SendTimeout time.Duration
	// SendHWM bounds messages queued in the socket (default 1000).
	SendHWM int
}

// ErrNotSent matches (errors.Is) a message no ingest edge took in time.
var ErrNotSent = errors.New("not sent")

// Pusher sends items to the INGEST endpoint (fire-and-forget, PUSH):
// deltas batched by size and time, and snapshots. The server does not
// answer; invalid items are dropped and counted there
// (mp_ingest_dropped_total). Messages leave in the order they are made:
// a Snapshot first sends the deltas buffered before it.
//
// A Pusher is safe for concurrent use.
type Pusher struct {
	endpoint string
	opts     PusherOptions
	mu       sync.Mutex
	items    [][]byte // encoded delta items of the batch being built
	size     int
	since    time.Time  // when the batch got its first item
	errMu    sync.Mutex // guards err apart from mu: the owner must never wait for mu
	err      error      // a failed asynchronous send, reported by the next call
	out      chan push
	stop     chan struct{}
	done     chan struct{}
	closed   bool
}

// push is one message for the socket owner; sent, when not nil, receives
// the outcome.
type push struct {
	body []byte
	sent chan error
}

// NewPusher connects a PUSH socket to an ingest endpoint ("tcp://host:port"
// or "host:port").
func NewPusher(endpoint string, opts PusherOptions) (*Pusher, error) {
	if opts.MaxItems <= 0 {
		opts.MaxItems = 500
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 20
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 50 * time.Millisecond
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 5 * time.Second
	}
	if opts.SendHWM <= 0 {
		opts.SendHWM = 1000
	}
	p := &Pusher{endpoint: Endpoint(endpoint), opts: opts,
		out: make(chan push, 64), stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan error, 1)
	go p.own(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return p, nil
}

// own creates, uses and closes the PUSH socket, the only goroutine to
// touch it. IMMEDIATE keeps messages out of the queue of a connection that
// is not up, so a missing ingest edge surfaces as ErrNotSent.
func (p *Pusher) own(ready chan<- error) {
	defer close(p.done)
	o, err := open(zmq.PUSH, p.endpoint, func(s *zmq.Socket) error {
		return errors.Join(s.SetImmediate(true), s.SetSndtimeo(p.opts.SendTimeout),
			s.SetSndhwm(p.opts.SendHWM), s.SetLinger(p.opts.SendTimeout))
	})
	ready <- err
	if err != nil {
		return
	}
	defer o.close()
	sock := o.sock
	tick := time.NewTicker(p.opts.MaxDelay / 2)
	defer tick.Stop()
	send := func(m push) {
		_, err := sock.SendBytes(m.body, 0)
		if err != nil {
			err = fmt.Errorf("push to %s: no ingest edge took the message in %s (%v): %w",
				p.endpoint, p.opts.SendTimeout, err, ErrNotSent)
		}
		if m.sent != nil {
			m.sent <- err
		} else if err != nil {
			p.setErr(err)
		}
	}
	for {
		select {
		case m := <-p.out:
			send(m)
		case <-tick.C:
			// A caller holding mu may be waiting for this loop to take its
			// message: never wait for mu here. A busy pusher sends by size.
			if !p.mu.TryLock() {
				continue
			}
			var body []byte
			if len(p.items) > 0 && time.Since(p.since) >= p.opts.MaxDelay {
				body, err = p.takeLocked()
			}
			p.mu.Unlock()
			if err != nil {
				p.setErr(err)
			}
			if body != nil {
				send(push{body: body})
			}
		case <-p.stop:
			return
		}
	}
}

// Delta buffers one item for store ("" for messages) and topic; payload is
// any value encoding/json accepts, or a json.RawMessage (key order kept).
// It returns an error from an earlier asynchronous send, if any.
func (p *Pusher) Delta(store, topic string, payload any) error {
	item := map[string]any{"topic": topic, "payload": payload}
	if store != "" {
		item["store"] = store
	}
	enc, err := p.encode(item)
	if err != nil {
		return fmt.Errorf("delta item: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.checkLocked(); err != nil {
		return err
	}
	if len(p.items) > 0 && p.size+len(enc) > p.opts.MaxBytes {
		if err := p.sendLocked(false); err != nil {
			return err
		}
	}
	if len(p.items) == 0 {
		p.since = time.Now()
	}
	p.items = append(p.items, enc)
	p.size += len(enc)
	if len(p.items) >= p.opts.MaxItems || p.size >= p.opts.MaxBytes {
		return p.sendLocked(false)
	}
	return nil
}

// Flush sends the buffered deltas and waits until the socket took them.
func (p *Pusher) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.checkLocked(); err != nil {
		return err
	}
	return p.sendLocked(true)
}

// Snapshot sends items as one snapshot of store ("" for messages) and
// topic ("" for the server's default, snapshot.all); each item is the
// payload of one event. Buffered deltas go first.
func (p *Pusher) Snapshot(store, topic string, mode SnapshotMode, items []any) error {
	msg := map[string]any{"kind": "snapshot", "mode": string(mode), "items": items}
	if items == nil {
		msg["items"] = []any{}
	}
	if store != "" {
		msg["store"] = store
	}
	if topic != "" {
		msg["topic"] = topic
	}
	body, err := p.encode(msg)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.checkLocked(); err != nil {
		return err
	}
	if err := p.sendLocked(false); err != nil {
		return err
	}
	return p.enqueueLocked(push{body: body, sent: make(chan error, 1)})
}

func (p *Pusher) checkLocked() error {
	if p.closed {
		return ErrClosed
	}
	return p.takeErr()
}

func (p *Pusher) setErr(err error) {
	p.errMu.Lock()
	p.err = err
	p.errMu.Unlock()
}

func (p *Pusher) takeErr() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	err := p.err
	p.err = nil
	return err
}

// sendLocked hands the batch being built to the socket owner; with wait it
// returns once the socket took it.
func (p *Pusher) sendLocked(wait bool) error {
	body, err := p.takeLocked()
	if err != nil || body == nil {
		return err
	}
	m := push{body: body}
	if wait {
		m.sent = make(chan error, 1)
	}
	return p.enqueueLocked(m)
}

// enqueueLocked queues m for the owner (blocking while 64 messages wait:
// backpressure) and, when m.sent is set, waits for the outcome. Holding
// p.mu meanwhile keeps messages in the order they were made.
func (p *Pusher) enqueueLocked(m push) error {
	select {
	case p.out <- m:
	case <-p.done:
		return ErrClosed
	}
	if m.sent == nil {
		return nil
	}
	select {
	case err := <-m.sent:
		return err
	case <-p.done:
		return ErrClosed
	}
}

// takeLocked encodes the batch being built as one delta message and
// empties it; nil when there is nothing to send.
func (p *Pusher) takeLocked() ([]byte, error) {
	if len(p.items) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	buf.Grow(p.size + 32)
	if p.opts.Encoding == Msgpack {
		e := msgpack.NewEncoder(&buf)
		err := errors.Join(e.EncodeMapLen(2), e.EncodeString("kind"), e.EncodeString("delta"),
			e.EncodeString("items"), e.EncodeArrayLen(len(p.items)))
		if err != nil {
			return nil, err
		}
		for _, it := range p.items {
			buf.Write(it)
		}
	} else {
		buf.WriteString(`{"kind":"delta","items":[`)
		buf.Write(bytes.Join(p.items, []byte{','}))
		buf.WriteString(`]}`)
	}
	p.items, p.size = nil, 0
	return buf.Bytes(), nil
}

func (p *Pusher) encode(v map[string]any) ([]byte, error) {
	if p.opts.Encoding == Msgpack {
		return marshalMsgpack(forMsgpack(v))
	}
	return json.Marshal(v)
}

// Close sends what is buffered, waits up to SendTimeout for queued
// messages to leave, and stops the pusher.
func (p *Pusher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	err := errors.Join(p.takeErr(), p.sendLocked(true))
	p.closed = true
	close(p.stop)
	<-p.done
	return err
}
