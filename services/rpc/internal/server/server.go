// Package server runs the RPC edge's ROUTER socket. One goroutine owns the
// socket: it reads requests and hands them to a bounded pool of workers,
// which call the store concurrently (a slow replay never blocks a ping).
// Each worker owns an inproc PUSH socket; the replies arrive on a PULL
// socket in the owner's poller, so they are sent without polling delays or
// an extra goroutine hop. Sends never block on one peer.
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
	replyAddr := fmt.Sprintf("inproc://rpc-replies-%p", router)
	replies, err := zmqx.Bind(zctx, zmqx.PULL, replyAddr, zmqx.Options{})
	if err != nil {
		return err
	}
	defer replies.Close()

	jobs := make(chan job, cfg.Queue)
	// Workers use their own context: in-flight requests finish after ctx
	// ends (each store call has its own deadline).
	var wg sync.WaitGroup
	workerErr := make(chan error, cfg.Workers)
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// This worker's own socket: created, used and closed here.
			push, err := zmqx.NewSocket(zctx, zmqx.PUSH, zmqx.Options{})
			if err == nil {
				err = push.Connect(replyAddr)
			}
			workerErr <- err
			if err != nil {
				return
			}
			defer push.Close()
			for j := range jobs {
				body := j.frames[len(j.frames)-1]
				out, op, outcome := handle(context.Background(), body)
				obs.Done(op, outcome, time.Since(j.start))
				frames := append(j.frames[:len(j.frames)-1:len(j.frames)-1], out)
				if err := sendFrames(push, frames, 0); err != nil {
					log.Error("reply lost inside the edge", "err", err)
				}
			}
		}()
	}
	defer wg.Wait()
	defer close(jobs)
	for range cfg.Workers {
		if err := <-workerErr; err != nil {
			return fmt.Errorf("rpc worker socket: %w", err)
		}
	}

	log.Info("rpc bound", "endpoint", cfg.Endpoint, "workers", cfg.Workers)
	ready()

	inFlight := 0
	send := func() {
		for {
			frames, err := replies.RecvMessageBytes(zmqx.DONTWAIT)
			if err != nil {
				obs.InFlight(inFlight)
				return
			}
			inFlight--
			if err := sendFrames(router, frames, zmqx.DONTWAIT); err != nil {
				switch {
				case zmqx.IsUnreachable(err):
					obs.Unroutable()
				default:
					obs.ReplyDropped()
				}
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
		poller.Add(replies, zmqx.POLLIN)
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
			if p.Socket == replies {
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
