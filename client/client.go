// Package client is the Go client for Message Plane's public ZMQ protocol
// (docs/PROTOCOL.md in the repository): RPC calls over a DEALER socket with
// req_id matching and pipelining, in JSON or msgpack; typed helpers for every
// op; a gap-free Subscription on the PUB endpoint; a batching Pusher for the
// INGEST endpoint.
//
// It is its own module and depends only on pebbe/zmq4 (cgo over libzmq) and
// vmihailenco/msgpack, so a plugin that imports it pulls in nothing of the
// server.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// Encoding of request bodies. The server answers in the request's encoding.
type Encoding int

const (
	JSON Encoding = iota
	Msgpack
)

func (e Encoding) String() string {
	if e == Msgpack {
		return "msgpack"
	}
	return "json"
}

// Options configure a client.
type Options struct {
	Encoding Encoding
	// Timeout bounds a call when its context has no deadline (default 5s).
	Timeout time.Duration
	// SendHWM bounds requests queued towards the server (default 100000).
	SendHWM int
}

// ErrClosed is returned by calls on a closed client.
var ErrClosed = errors.New("client closed")

// Reply is one RPC reply, converted to JSON whatever its encoding.
type Reply struct {
	V      int             `json:"v"`
	ReqID  *string         `json:"req_id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	// Raw is the reply body as received.
	Raw []byte `json:"-"`
}

// Decode unmarshals the result.
func (r *Reply) Decode(v any) error { return json.Unmarshal(r.Result, v) }

// linger bounds how long a closing socket keeps unsent messages, so
// terminating the ZMQ context never hangs.
const linger = 500 * time.Millisecond

// Client is safe for concurrent use: one goroutine owns its DEALER socket
// (ZMQ sockets are not thread-safe) and callers reach it through a channel
// and an inproc wake-up socket.
type Client struct {
	endpoint string
	opts     Options
	out      chan outgoing
	wake     chan struct{}
	mu       sync.Mutex
	wait     map[string]chan *Reply
	nextID   atomic.Uint64
	prefix   string
	done     chan struct{}
	closed   atomic.Bool
	stop     chan struct{}
}

var instance atomic.Uint64

// Dial connects a DEALER to an RPC endpoint ("tcp://host:port" or
// "host:port"). ZMQ connects in the background: Dial succeeds before the
// server is up, and a call to a server that never answers fails with
// ErrNoReply after the timeout.
func Dial(endpoint string, opts Options) (*Client, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.SendHWM <= 0 {
		opts.SendHWM = 100000
	}
	n := instance.Add(1)
	c := &Client{
		endpoint: Endpoint(endpoint), opts: opts,
		out: make(chan outgoing, 1024), wake: make(chan struct{}, 1),
		wait:   map[string]chan *Reply{},
		prefix: fmt.Sprintf("c%d-%d-", time.Now().UnixNano()%1e6, n),
		done:   make(chan struct{}), stop: make(chan struct{}),
	}
	ready := make(chan error, 1)
	go c.own(n, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return c, nil
}

// Endpoint returns the RPC endpoint the client talks to.
func (c *Client) Endpoint() string { return c.endpoint }

// Encoding returns the encoding of the client's requests.
func (c *Client) Encoding() Encoding { return c.opts.Encoding }

// own creates, uses and closes the DEALER, the only goroutine to touch it.
func (c *Client) own(n uint64, ready chan<- error) {
	defer close(c.done)
	o, err := open(zmq.DEALER, c.endpoint, func(s *zmq.Socket) error {
		return errors.Join(s.SetSndhwm(c.opts.SendHWM), s.SetRcvhwm(c.opts.SendHWM))
	})
	if err != nil {
		ready <- err
		return
	}
	defer o.close()
	sock := o.sock
	bell, err := newBell(o.ctx, n, c.wake)
	if err != nil {
		ready <- err
		return
	}
	defer bell.close()
	ready <- nil

	poller := zmq.NewPoller()
	poller.Add(sock, zmq.POLLIN)
	poller.Add(bell.rx, zmq.POLLIN)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		if _, err := poller.Poll(100 * time.Millisecond); err != nil {
			return
		}
		bell.drain()
		for {
			frames, err := sock.RecvMessageBytes(zmq.DONTWAIT)
			if err != nil {
				break
			}
			c.deliver(frames[len(frames)-1])
		}
		c.sendQueued(sock)
	}
}

// sendQueued sends every body waiting in c.out without blocking the loop.
func (c *Client) sendQueued(sock *zmq.Socket) {
	for {
		select {
		case o := <-c.out:
			if _, err := sock.SendBytes(o.body, zmq.DONTWAIT); err != nil {
				c.answer(o.id, &Reply{Error: &Error{Code: codeClient, Message: "send: " + err.Error()}})
			}
		default:
			return
		}
	}
}

// owned is a ZMQ context with its one socket, both owned by one goroutine.
type owned struct {
	ctx  *zmq.Context
	sock *zmq.Socket
}

// open makes a ZMQ context (EINTR retried: Go signals threads) and one
// socket of type t with a bounded linger plus the caller's options,
// connected to endpoint.
func open(t zmq.Type, endpoint string, set func(*zmq.Socket) error) (*owned, error) {
	zctx, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("zmq context: %w", err)
	}
	zctx.SetRetryAfterEINTR(true)
	sock, err := newSocket(zctx, t, set)
	if err == nil {
		if err = sock.Connect(endpoint); err != nil {
			sock.Close()
			err = fmt.Errorf("connect %s: %w", endpoint, err)
		}
	}
	if err != nil {
		zctx.Term()
		return nil, err
	}
	return &owned{zctx, sock}, nil
}

// close closes the socket, then terminates the context (which waits for
// sockets to close: the bounded linger keeps that short).
func (o *owned) close() {
	o.sock.Close()
	o.ctx.Term()
}

// newSocket creates a socket with a bounded linger plus the caller's options.
func newSocket(zctx *zmq.Context, t zmq.Type, set func(*zmq.Socket) error) (*zmq.Socket, error) {
	s, err := zctx.NewSocket(t)
	if err != nil {
		return nil, fmt.Errorf("zmq %v socket: %w", t, err)
	}
	err = s.SetLinger(linger)
	if err == nil && set != nil {
		err = set(s)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("zmq %v socket options: %w", t, err)
	}
	return s, nil
}

// outgoing is one request on its way to the socket owner.
type outgoing struct {
	id   string
	body []byte
}

// bell wakes a socket owner blocked in Poll: the owner polls rx; a helper
// goroutine owns tx and rings it once per signal on ring (signals coalesce
// in ring's buffer of one).
type bell struct {
	rx   *zmq.Socket
	quit chan struct{}
	gone chan struct{}
}

func newBell(zctx *zmq.Context, n uint64, ring chan struct{}) (*bell, error) {
	addr := "inproc://mp-client-bell-" + strconv.FormatUint(n, 10)
	rx, err := newSocket(zctx, zmq.PAIR, nil)
	if err != nil {
		return nil, err
	}
	if err := rx.Bind(addr); err != nil {
		rx.Close()
		return nil, fmt.Errorf("bind %s: %w", addr, err)
	}
	b := &bell{rx: rx, quit: make(chan struct{}), gone: make(chan struct{})}
	connected := make(chan error, 1)
	go func() {
		defer close(b.gone)
		tx, err := newSocket(zctx, zmq.PAIR, nil)
		if err == nil {
			if err = tx.Connect(addr); err != nil {
				tx.Close()
			}
		}
		connected <- err
		if err != nil {
			return
		}
		defer tx.Close()
		for {
			select {
			case <-ring:
				_, _ = tx.SendBytes(nil, zmq.DONTWAIT)
			case <-b.quit:
				return
			}
		}
	}()
	if err := <-connected; err != nil {
		rx.Close()
		return nil, err
	}
	return b, nil
}

func (b *bell) drain() {
	for {
		if _, err := b.rx.RecvBytes(zmq.DONTWAIT); err != nil {
			return
		}
	}
}

// close stops the helper.
func (b *bell) close() {
	close(b.quit)
	<-b.gone
	b.rx.Close()
}

func (c *Client) deliver(body []byte) {
	r, err := decodeReply(body)
	if err != nil || r.ReqID == nil {
		return // not ours to answer: a reply we cannot read has no waiter
	}
	c.answer(*r.ReqID, r)
}

func (c *Client) answer(id string, r *Reply) {
	c.mu.Lock()
	ch := c.wait[id]
	delete(c.wait, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// codeClient marks a reply made up by the client for a request it could not send.
const codeClient = "CLIENT"

// Call sends one request and waits for its reply. args may be nil, a map,
// or any value that encodes as an object; json.RawMessage values (also
// inside maps and slices) keep their key order in either encoding. A
// protocol error is returned as *Error along with the reply; it matches its
// code's sentinel with errors.Is (ErrTopicTooLong, ...).
func (c *Client) Call(ctx context.Context, op string, args any) (*Reply, error) {
	id := c.prefix + strconv.FormatUint(c.nextID.Add(1), 10)
	body, err := encodeRequest(c.opts.Encoding, id, op, args)
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", op, err)
	}
	r, err := c.roundTrip(ctx, op, id, body)
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		return r, r.Error
	}
	return r, nil
}

// CallRaw sends a pre-encoded body whose req_id is reqID and waits for the
// reply with that req_id.
func (c *Client) CallRaw(ctx context.Context, reqID string, body []byte) (*Reply, error) {
	return c.roundTrip(ctx, "request "+reqID, reqID, body)
}

func (c *Client) roundTrip(ctx context.Context, op, id string, body []byte) (*Reply, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	start := time.Now()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	ch := make(chan *Reply, 1)
	c.mu.Lock()
	c.wait[id] = ch
	c.mu.Unlock()
	select {
	case c.out <- outgoing{id, body}:
		select {
		case c.wake <- struct{}{}:
		default:
		}
	case <-c.done:
		c.forget(id)
		return nil, ErrClosed
	case <-ctx.Done():
		c.forget(id)
		return nil, c.noReply(op, start, ctx.Err())
	}
	select {
	case r := <-ch:
		if r.Error != nil && r.Error.Code == codeClient {
			return nil, fmt.Errorf("%s to %s: %s", op, c.endpoint, r.Error.Message)
		}
		return r, nil
	case <-c.done:
		c.forget(id)
		return nil, ErrClosed
	case <-ctx.Done():
		c.forget(id)
		return nil, c.noReply(op, start, ctx.Err())
	}
}

func (c *Client) noReply(op string, start time.Time, cause error) error {
	return &NoReplyError{Endpoint: c.endpoint, Op: op, Waited: time.Since(start), Cause: cause}
}

func (c *Client) forget(id string) {
	c.mu.Lock()
	delete(c.wait, id)
	c.mu.Unlock()
}

// Close stops the client; calls in flight fail with ErrNoReply or ErrClosed.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	close(c.stop)
	select { // end the owner's Poll now rather than at its timeout
	case c.wake <- struct{}{}:
	default:
	}
	<-c.done
	return nil
}
