// Package server runs the RPC edge's ROUTER socket. One goroutine owns the
// socket: it reads requests and hands each to a worker goroutine of its own,
// so a slow replay never blocks a ping and concurrent publishes meet in one
// store write. Finished replies come back on a channel and a Waker wakes the
// owner, which sends them; a burst of replies costs one wake-up. Sends
// never block on one peer.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/messageplane/mp/internal/zmqx"
)

// Handler answers one request body.
type Handler func(ctx context.Context, body []byte) (reply []byte, op, outcome string)

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

type job struct {
	frames [][]byte // routing envelope, then the body
	start  time.Time
}

// Run serves until ctx ends, then stops reading, finishes in-flight
// requests (up to Grace) and closes the socket. ready is called once bound.
func Run(ctx context.Context, cfg Config, handle Handler, obs Observer, log *slog.Logger, ready func()) error {
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

	// Room for every request in flight: a finished request never waits.
	replies := make(chan [][]byte, cfg.MaxInFlight)
	// Requests run on their own context: in-flight requests finish after
	// ctx ends (each store call has its own deadline). Workers are started
	// as needed and kept: a fresh goroutine per request spent a tenth of the
	// edge's CPU growing stacks (profiled at 8 clients x 64 in flight).
	var wg sync.WaitGroup
	jobs := make(chan job) // unbuffered: a send succeeds only with an idle worker
	defer wg.Wait()
	defer close(jobs)
	work := func(j job) {
		defer wg.Done()
		for {
			body := j.frames[len(j.frames)-1]
			out, op, outcome := handle(context.Background(), body)
			obs.Done(op, outcome, time.Since(j.start))
			replies <- append(j.frames[:len(j.frames)-1:len(j.frames)-1], out)
			waker.Wake()
			var ok bool
			if j, ok = <-jobs; !ok {
				return
			}
		}
	}
	dispatch := func(j job) {
		select {
		case jobs <- j:
		default:
			// No idle worker: at most one per request in flight.
			wg.Add(1)
			go work(j)
		}
	}

	log.Info("rpc bound", "endpoint", cfg.Endpoint, "max_in_flight", cfg.MaxInFlight)
	ready()

	inFlight := 0
	send := func() {
		for {
			select {
			case frames := <-replies:
				inFlight--
				if err := sendFrames(router, frames, zmqx.DONTWAIT); err != nil {
					switch {
					case zmqx.IsUnreachable(err):
						obs.Unroutable()
					default:
						obs.ReplyDropped()
					}
				}
			default:
				obs.InFlight(inFlight)
				return
			}
		}
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
			dispatch(job{frames: frames, start: time.Now()})
		}
		obs.InFlight(inFlight)
	}

	// Two pollers, made once: with the ROUTER while there is room to read,
	// without it when full or draining.
	all := zmqx.NewPoller()
	all.Add(waker.Socket(), zmqx.POLLIN)
	all.Add(router, zmqx.POLLIN)
	repliesOnly := zmqx.NewPoller()
	repliesOnly.Add(waker.Socket(), zmqx.POLLIN)

	var deadline time.Time
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
		polled, err := poller.Poll(100 * time.Millisecond)
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
		// Replies may have arrived while reading.
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
