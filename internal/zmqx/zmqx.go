// Package zmqx is the only package that imports pebbe/zmq4. It holds the
// socket settings every edge shares and the Waker that lets other goroutines
// wake a socket's owner. ZMQ sockets are not thread-safe: each one is created,
// used and closed by a single goroutine, its owner.
package zmqx

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// Re-exported so callers need not import zmq4 themselves.
type (
	Context = zmq.Context
	Socket  = zmq.Socket
	Poller  = zmq.Poller
	Type    = zmq.Type
	Flag    = zmq.Flag
)

const (
	ROUTER = zmq.ROUTER
	DEALER = zmq.DEALER
	REQ    = zmq.REQ
	PUB    = zmq.PUB
	SUB    = zmq.SUB
	PUSH   = zmq.PUSH
	PULL   = zmq.PULL

	POLLIN   = zmq.POLLIN
	DONTWAIT = zmq.DONTWAIT
	SNDMORE  = zmq.SNDMORE
)

// Linger bounds how long a closing socket keeps unsent messages, so
// Context.Term never hangs (lesson 5 of CONVENTIONS.md).
const Linger = 500 * time.Millisecond

// NewContext returns a ZMQ context; EINTR is retried (Go signals threads).
func NewContext() (*Context, error) {
	c, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("zmq context: %w", err)
	}
	c.SetRetryAfterEINTR(true)
	return c, nil
}

// Options are the settings of an edge socket.
type Options struct {
	SndHWM, RcvHWM  int  // 0: libzmq default
	RouterMandatory bool // ROUTER: fail unroutable sends instead of dropping silently
	// MaxMsgSize bounds an inbound message (0: unbounded): libzmq drops the
	// connection of a peer that sends more, so one hostile frame cannot
	// exhaust memory.
	MaxMsgSize int64
}

// NewSocket creates a socket with bounded linger, ZMTP heartbeats and TCP
// keepalive, so idle connections cut by NAT are noticed.
func NewSocket(c *Context, t Type, o Options) (*Socket, error) {
	s, err := c.NewSocket(t)
	if err != nil {
		return nil, fmt.Errorf("zmq socket: %w", err)
	}
	set := []error{
		s.SetLinger(Linger),
		s.SetHeartbeatIvl(10 * time.Second),
		s.SetHeartbeatTimeout(30 * time.Second),
		s.SetTcpKeepalive(1),
	}
	if o.SndHWM > 0 {
		set = append(set, s.SetSndhwm(o.SndHWM))
	}
	if o.RcvHWM > 0 {
		set = append(set, s.SetRcvhwm(o.RcvHWM))
	}
	if o.MaxMsgSize > 0 {
		set = append(set, s.SetMaxmsgsize(o.MaxMsgSize))
	}
	if o.RouterMandatory {
		set = append(set, s.SetRouterMandatory(1))
	}
	if err := errors.Join(set...); err != nil {
		s.Close()
		return nil, fmt.Errorf("zmq socket options: %w", err)
	}
	return s, nil
}

// Bind creates a socket and binds it.
func Bind(c *Context, t Type, endpoint string, o Options) (*Socket, error) {
	s, err := NewSocket(c, t, o)
	if err != nil {
		return nil, err
	}
	if err := s.Bind(endpoint); err != nil {
		s.Close()
		return nil, fmt.Errorf("bind %s: %w", endpoint, err)
	}
	return s, nil
}

// NewPoller returns an empty poller.
func NewPoller() *Poller { return zmq.NewPoller() }

// IsAgain reports a would-block error (DONTWAIT on a full or empty queue).
func IsAgain(err error) bool { return zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN) }

// IsUnreachable reports a ROUTER send to a peer that is gone.
func IsUnreachable(err error) bool { return zmq.AsErrno(err) == zmq.Errno(syscall.EHOSTUNREACH) }

// IsTerminated reports that the context was terminated.
func IsTerminated(err error) bool { return zmq.AsErrno(err) == zmq.ETERM }

var wakerSeq atomic.Uint64

// Waker lets any goroutine wake the goroutine that owns a socket: the owner
// adds Socket() to its poller and calls Drain when it is readable; others
// call Wake. Wakes coalesce: one message stands for every wake until the
// owner drains it.
//
// The sending end is the one socket here used by more than one goroutine:
// only ever sent on, never polled, each send under a mutex. libzmq allows
// a socket to move between threads with a full memory barrier between
// uses, which the mutex is; what it forbids (and what crashes in
// mailbox.cpp) is concurrent use, or polling in one thread while another
// sends. Sending from the waking goroutine saves a goroutine hand-off on
// every wake, which is on the path of every reply that waits for one.
type Waker struct {
	pull  *Socket // owned by the socket owner
	mu    sync.Mutex
	push  *Socket     // guarded by mu
	armed atomic.Bool // a wake message is on its way and not yet drained
}

// NewWaker must be called by the owner goroutine.
func NewWaker(c *Context) (*Waker, error) {
	addr := fmt.Sprintf("inproc://waker-%d", wakerSeq.Add(1))
	pull, err := NewSocket(c, PULL, Options{})
	if err != nil {
		return nil, err
	}
	if err := pull.Bind(addr); err != nil {
		pull.Close()
		return nil, err
	}
	push, err := NewSocket(c, PUSH, Options{})
	if err == nil {
		err = push.Connect(addr)
	}
	if err != nil {
		pull.Close()
		return nil, err
	}
	return &Waker{pull: pull, push: push}, nil
}

// Socket is the end the owner polls.
func (w *Waker) Socket() *Socket { return w.pull }

// Wake is safe from any goroutine.
func (w *Waker) Wake() {
	if !w.armed.CompareAndSwap(false, true) {
		return // the owner has a wake-up coming
	}
	w.mu.Lock()
	if w.push != nil {
		_, _ = w.push.SendBytes(nil, DONTWAIT)
	}
	w.mu.Unlock()
}

// Drain consumes pending wake-ups (owner only).
func (w *Waker) Drain() {
	w.armed.Store(false) // a wake from now on sends again
	for {
		if _, err := w.pull.RecvBytes(DONTWAIT); err != nil {
			return
		}
	}
}

// Close stops the waker (owner only); later wakes do nothing.
func (w *Waker) Close() {
	w.mu.Lock()
	w.push.Close()
	w.push = nil
	w.mu.Unlock()
	w.pull.Close()
}

// Version is the libzmq version in use.
func Version() (major, minor, patch int) { return zmq.Version() }
