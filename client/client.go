// Package client is a Go client for Message Plane's public ZMQ protocol
// (docs/PROTOCOL.md): RPC calls over a DEALER socket with req_id matching and
// pipelining, in JSON or msgpack. Plugins may import it; the end-to-end
// tests and mpbench use it.
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

	"github.com/vmihailenco/msgpack/v5"

	"github.com/messageplane/mp/internal/wire"
	"github.com/messageplane/mp/internal/zmqx"
)

// Encoding of request bodies.
type Encoding int

const (
	JSON Encoding = iota
	Msgpack
)

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

// Error is a protocol error reply.
type Error struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

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

// Client is safe for concurrent use; one goroutine owns its socket.
type Client struct {
	opts   Options
	out    chan []byte
	waker  *zmqx.Waker
	mu     sync.Mutex
	wait   map[string]chan *Reply
	nextID atomic.Uint64
	prefix string
	done   chan struct{}
	errc   chan error
	closed atomic.Bool
	cancel context.CancelFunc
}

var clientSeq atomic.Uint64

// Dial connects a DEALER to an RPC endpoint.
func Dial(endpoint string, opts Options) (*Client, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.SendHWM <= 0 {
		opts.SendHWM = 100000
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		opts: opts, out: make(chan []byte, 1024), wait: map[string]chan *Reply{},
		prefix: fmt.Sprintf("c%d-%d-", time.Now().UnixNano()%1e6, clientSeq.Add(1)),
		done:   make(chan struct{}), errc: make(chan error, 1), cancel: cancel,
	}
	ready := make(chan error, 1)
	go c.loop(ctx, endpoint, ready)
	if err := <-ready; err != nil {
		cancel()
		return nil, err
	}
	return c, nil
}

// loop owns the DEALER socket and the ZMQ context.
func (c *Client) loop(ctx context.Context, endpoint string, ready chan<- error) {
	defer close(c.done)
	zctx, err := zmqx.NewContext()
	if err != nil {
		ready <- err
		return
	}
	defer zctx.Term()
	sock, err := zmqx.NewSocket(zctx, zmqx.DEALER, zmqx.Options{SndHWM: c.opts.SendHWM, RcvHWM: c.opts.SendHWM})
	if err == nil {
		err = sock.Connect(endpoint)
	}
	if err != nil {
		ready <- fmt.Errorf("connect %s: %w", endpoint, err)
		return
	}
	defer sock.Close()
	waker, err := zmqx.NewWaker(zctx)
	if err != nil {
		ready <- err
		return
	}
	c.waker = waker
	defer waker.Close()
	ready <- nil

	poller := zmqx.NewPoller()
	poller.Add(sock, zmqx.POLLIN)
	poller.Add(waker.Socket(), zmqx.POLLIN)
	for ctx.Err() == nil {
		polled, err := poller.Poll(100 * time.Millisecond)
		if err != nil {
			return
		}
		for _, p := range polled {
			if p.Socket == waker.Socket() {
				waker.Drain()
				continue
			}
			for {
				frames, err := sock.RecvMessageBytes(zmqx.DONTWAIT)
				if err != nil {
					break
				}
				c.deliver(frames[len(frames)-1])
			}
		}
		for sent := false; !sent; {
			select {
			case body := <-c.out:
				if _, err := sock.SendBytes(body, zmqx.DONTWAIT); err != nil {
					c.fail(body, fmt.Errorf("send: %w", err))
				}
			default:
				sent = true
			}
		}
	}
}

func (c *Client) deliver(body []byte) {
	v, _, err := wire.Decode(body)
	if err != nil {
		return
	}
	rid, _ := v.Get("req_id")
	js, err := wire.AppendJSON(nil, v)
	if err != nil {
		return
	}
	r := &Reply{Raw: body}
	if err := json.Unmarshal(js, r); err != nil {
		return
	}
	c.mu.Lock()
	ch := c.wait[rid.Str]
	delete(c.wait, rid.Str)
	c.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// fail answers a request that could not be sent.
func (c *Client) fail(body []byte, err error) {
	v, _, _ := wire.Decode(body)
	rid, _ := v.Get("req_id")
	c.mu.Lock()
	ch := c.wait[rid.Str]
	delete(c.wait, rid.Str)
	c.mu.Unlock()
	if ch != nil {
		ch <- &Reply{Error: &Error{Code: "CLIENT", Message: err.Error()}}
	}
}

// Call sends one request and waits for its reply. args may be nil, a map,
// or any value that encodes as an object. A protocol error is returned as
// *Error along with the reply.
func (c *Client) Call(ctx context.Context, op string, args any) (*Reply, error) {
	id := c.prefix + strconv.FormatUint(c.nextID.Add(1), 10)
	req := map[string]any{"v": 1, "req_id": id, "op": op}
	if args != nil {
		req["args"] = args
	}
	var body []byte
	var err error
	if c.opts.Encoding == Msgpack {
		body, err = msgpack.Marshal(req)
	} else {
		body, err = json.Marshal(req)
	}
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	r, err := c.roundTrip(ctx, id, body)
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
	return c.roundTrip(ctx, reqID, body)
}

func (c *Client) roundTrip(ctx context.Context, id string, body []byte) (*Reply, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
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
	case c.out <- body:
		c.waker.Wake()
	case <-ctx.Done():
		c.forget(id)
		return nil, ctx.Err()
	}
	select {
	case r := <-ch:
		if r.Error != nil && r.Error.Code == "CLIENT" {
			return nil, errors.New(r.Error.Message)
		}
		return r, nil
	case <-ctx.Done():
		c.forget(id)
		return nil, fmt.Errorf("%s: no reply: %w", id, ctx.Err())
	}
}

func (c *Client) forget(id string) {
	c.mu.Lock()
	delete(c.wait, id)
	c.mu.Unlock()
}

// Close stops the client.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.cancel()
	<-c.done
	return nil
}
