// Package server runs the RPC edge's ROUTER socket. One goroutine owns the
// socket: it reads requests and hands them to a bounded pool of workers,
// which call the store concurrently (a slow replay never blocks a ping);
// replies come back over a channel and a Waker in the same poller, so they
// are sent without polling delays. Sends never block on one peer.
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
	Workers  int // concurrent requests
	Queue    int // requests read ahead of the workers
	SndHWM   int
	RcvHWM   int
	Grace    time.Duration // time to finish in-flight requests on shutdown
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

type reply struct {
	frames [][]byte
}

// Run serves until ctx ends, then stops reading, finishes in-flight
// requests (up to Grace) and closes the socket. ready is called once bound.
func Run(ctx context.Context, cfg Config, handle Handler, obs Observer, log *slog.Logger, ready func()) error {
	zctx, err := zmqx.NewContext()
	if err != nil {
		return err
	}
	defer zctx.Term()

	router, err := zmqx.Bind(zctx, zmqx.ROUTER, cfg.Endpoint, zmqx.Options{SndHWM: cfg.SndHWM, RcvHWM: cfg.RcvHWM, RouterMandatory: true})
	if err != nil {
		return err
	}
	defer router.Close()
	waker, err := zmqx.NewWaker(zctx)
	if err != nil {
		return err
	}
	defer waker.Close()

	jobs := make(chan job, cfg.Queue)
	// Each job yields exactly one reply, and at most Queue+Workers jobs are
	// in flight, so workers never block on this channel.
	replies := make(chan reply, cfg.Queue+cfg.Workers)
	// Workers use their own context: in-flight requests finish after ctx
	// ends (each store call has its own deadline).
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				body := j.frames[len(j.frames)-1]
				out, op, outcome := handle(context.Background(), body)
				obs.Done(op, outcome, time.Since(j.start))
				frames := append(j.frames[:len(j.frames)-1:len(j.frames)-1], out)
				replies <- reply{frames: frames}
				waker.Wake()
			}
		}()
	}
	defer wg.Wait()
	defer close(jobs)

	log.Info("rpc bound", "endpoint", cfg.Endpoint, "workers", cfg.Workers)
	ready()

	inFlight := 0
	send := func() {
		for {
			select {
			case r := <-replies:
				inFlight--
				if err := sendFrames(router, r.frames); err != nil {
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
		poller := zmqx.NewPoller()
		poller.Add(waker.Socket(), zmqx.POLLIN)
		reading := deadline.IsZero() && len(jobs) < cap(jobs)
		if reading {
			poller.Add(router, zmqx.POLLIN)
		}
		polled, err := poller.Poll(100 * time.Millisecond)
		if err != nil {
			if zmqx.IsTerminated(err) {
				return nil
			}
			return fmt.Errorf("rpc poll: %w", err)
		}
		for _, p := range polled {
			if p.Socket == waker.Socket() {
				waker.Drain()
				send()
				continue
			}
			// Read what is queued, as long as the workers keep up.
			for i := 0; i < 256 && len(jobs) < cap(jobs); i++ {
				frames, err := router.RecvMessageBytes(zmqx.DONTWAIT)
				if err != nil {
					break
				}
				if len(frames) < 2 { // ROUTER always adds the peer identity frame
					obs.BadFrame()
					continue
				}
				inFlight++
				jobs <- job{frames: frames, start: time.Now()}
			}
			obs.InFlight(inFlight)
		}
		// Replies may have arrived while reading.
		send()
	}
}

// sendFrames sends a multipart message without blocking: on a full or
// vanished peer the message is dropped and the error says why.
func sendFrames(s *zmqx.Socket, frames [][]byte) error {
	for i, f := range frames {
		flags := zmqx.DONTWAIT
		if i < len(frames)-1 {
			flags |= zmqx.SNDMORE
		}
		if _, err := s.SendBytes(f, flags); err != nil {
			return err
		}
	}
	return nil
}
