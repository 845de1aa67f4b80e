// Package server runs the RPC edge's ROUTER socket. One goroutine owns the
// socket: it reads requests and starts each one, in the order they arrived,
// on the handler, which answers what it can at once, queues publishes for
// the store in that order and runs reads on workers. After each read of the
// socket it flushes the queued publishes (for a store in this process the
// write happens right there, with no hand-off) and sends every reply that
// is ready. Replies finished elsewhere wake the owner through a Waker only
// when it is about to sleep in its poll, so a burst costs one wake-up or
// none. Sends never block on one peer.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/messageplane/mp/internal/bufpool"
	"github.com/messageplane/mp/internal/zmqx"
)

// Handler answers requests; see package handler.
type Handler interface {
	// Start begins one request; respond is called exactly once, from any
	// goroutine, maybe before Start returns.
	Start(body []byte, respond func(reply []byte, op, outcome string))
	// Flush sends what the started requests queued for the store.
	Flush()
	// Expire answers requests that waited too long; it returns when to call
	// it next (zero: nothing waits).
	Expire(now time.Time) time.Time
}

// Config is the server's configuration.
type Config struct {
	Endpoint string
	// MaxInFlight bounds the requests read and not yet answered; past it
	// the owner stops reading and ZMQ's receive queue pushes back.
	MaxInFlight int
	SndHWM      int
	RcvHWM      int
	// MaxMsgSize bounds a request frame (libzmq disconnects a peer past it).
	MaxMsgSize int64
	Grace      time.Duration // time to finish in-flight requests on shutdown
}

// Observer receives what the server does, for metrics.
type Observer interface {
	Done(op, outcome string, d time.Duration)
	InFlight(n int)
	Unroutable()
	ReplyDropped()
	BadFrame()
}

// outbox holds replies finished and not yet sent. Finishers push and wake
// the owner if it sleeps; the owner takes them all at once.
type outbox struct {
	mu       sync.Mutex
	replies  [][][]byte
	sleeping atomic.Bool // the owner is in (or about to enter) its poll
	waker    *zmqx.Waker
}

func (o *outbox) push(frames [][]byte) {
	o.mu.Lock()
	o.replies = append(o.replies, frames)
	o.mu.Unlock()
	// Pushed before the check: either the owner sees this reply before it
	// sleeps, or this sees it sleeping and wakes it.
	if o.sleeping.Load() {
		o.waker.Wake()
	}
}

func (o *outbox) take(into [][][]byte) [][][]byte {
	o.mu.Lock()
	into = append(into, o.replies...)
	clear(o.replies)
	o.replies = o.replies[:0]
	o.mu.Unlock()
	return into
}

func (o *outbox) empty() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.replies) == 0
}

// Run serves until ctx ends, then stops reading, finishes in-flight
// requests (up to Grace) and closes the socket. ready is called once bound.
func Run(ctx context.Context, cfg Config, h Handler, obs Observer, log *slog.Logger, ready func()) error {
	zctx, err := zmqx.NewContext()
	if err != nil {
		return err
	}
	defer zctx.Term()

	router, err := zmqx.Bind(zctx, zmqx.ROUTER, cfg.Endpoint, zmqx.Options{SndHWM: cfg.SndHWM, RcvHWM: cfg.RcvHWM, RouterMandatory: true, MaxMsgSize: cfg.MaxMsgSize})
	if err != nil {
		return err
	}
	defer router.Close()
	waker, err := zmqx.NewWaker(zctx)
	if err != nil {
		return err
	}
	defer waker.Close()
	out := &outbox{waker: waker}

	log.Info("rpc bound", "endpoint", cfg.Endpoint, "max_in_flight", cfg.MaxInFlight)
	ready()

	inFlight := 0
	var sending [][][]byte
	send := func() {
		sending = out.take(sending[:0])
		for i, frames := range sending {
			inFlight--
			if err := sendFrames(router, frames, zmqx.DONTWAIT); err != nil {
				if zmqx.IsUnreachable(err) {
					obs.Unroutable()
				} else {
					obs.ReplyDropped()
				}
			}
			bufpool.Put(frames[len(frames)-1]) // libzmq copied it
			sending[i] = nil
		}
		obs.InFlight(inFlight)
	}
	receive := func() {
		// Read what is queued, as long as there is room.
		for i := 0; i < 256 && inFlight < cfg.MaxInFlight; i++ {
			frames, err := router.RecvMessageBytes(zmqx.DONTWAIT)
			if err != nil {
				break
			}
			if len(frames) < 2 { // ROUTER always adds the peer identity frame
				obs.BadFrame()
				continue
			}
			inFlight++
			envelope := frames[: len(frames)-1 : len(frames)-1]
			start := time.Now()
			h.Start(frames[len(frames)-1], func(reply []byte, op, outcome string) {
				obs.Done(op, outcome, time.Since(start))
				out.push(append(envelope, reply))
			})
		}
	}

	// Two pollers, made once: with the ROUTER while there is room to read,
	// without it when full or draining.
	all := zmqx.NewPoller()
	all.Add(waker.Socket(), zmqx.POLLIN)
	all.Add(router, zmqx.POLLIN)
	repliesOnly := zmqx.NewPoller()
	repliesOnly.Add(waker.Socket(), zmqx.POLLIN)

	var deadline, nextExpiry time.Time
	for {
		if ctx.Err() != nil && deadline.IsZero() {
			deadline = time.Now().Add(cfg.Grace)
			log.Info("rpc draining", "in_flight", inFlight)
		}
		if !deadline.IsZero() && (inFlight == 0 || time.Now().After(deadline)) {
			if inFlight > 0 {
				log.Warn("rpc stopped with requests unanswered", "in_flight", inFlight)
			}
			return nil
		}
		poller := all
		if !deadline.IsZero() || inFlight >= cfg.MaxInFlight {
			poller = repliesOnly
		}
		timeout := 100 * time.Millisecond
		if !nextExpiry.IsZero() {
			timeout = max(0, min(timeout, time.Until(nextExpiry)))
		}
		out.sleeping.Store(true)
		if !out.empty() {
			timeout = 0
		}
		polled, err := poller.Poll(timeout)
		out.sleeping.Store(false)
		if err != nil {
			if zmqx.IsTerminated(err) {
				return nil
			}
			return fmt.Errorf("rpc poll: %w", err)
		}
		for _, p := range polled {
			if p.Socket == router {
				receive()
			} else {
				waker.Drain()
			}
		}
		h.Flush()
		nextExpiry = h.Expire(time.Now())
		send()
	}
}

// sendFrames sends a multipart message. With DONTWAIT a full or vanished
// peer drops the message and the error says why.
func sendFrames(s *zmqx.Socket, frames [][]byte, flags zmqx.Flag) error {
	for i, f := range frames {
		flags := flags
		if i < len(frames)-1 {
			flags |= zmqx.SNDMORE
		}
		if _, err := s.SendBytes(f, flags); err != nil {
			return err
		}
	}
	return nil
}
