package zmqx

import (
	"fmt"
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// ConnObserver hears about the peers of a bound socket, from libzmq's
// socket monitor. Its methods are called from the monitor's goroutine.
type ConnObserver interface {
	// Accepted: a peer's TCP connection was accepted.
	Accepted()
	// Disconnected: an accepted connection ended.
	Disconnected()
}

var monitorSeq atomic.Uint64

// Monitor reports s's connections to obs until stop is called. Only the
// owner of s may call Monitor and stop (both act on s); stop must come
// before s is closed. The monitor's own PAIR socket is owned by a goroutine
// started here, which polls with a timeout so stop never waits on libzmq.
func Monitor(c *Context, s *Socket, obs ConnObserver) (stop func(), err error) {
	addr := fmt.Sprintf("inproc://monitor-%d", monitorSeq.Add(1))
	if err := s.Monitor(addr, zmq.EVENT_ACCEPTED|zmq.EVENT_DISCONNECTED); err != nil {
		return nil, fmt.Errorf("zmq socket monitor: %w", err)
	}
	pair, err := NewSocket(c, zmq.PAIR, Options{})
	if err == nil {
		if err = pair.Connect(addr); err != nil {
			pair.Close()
		}
	}
	if err != nil {
		_ = s.Monitor("", 0)
		return nil, fmt.Errorf("zmq socket monitor: %w", err)
	}
	done, exited := make(chan struct{}), make(chan struct{})
	// From here on this goroutine owns pair.
	go func() {
		defer close(exited)
		defer pair.Close()
		poller := NewPoller()
		poller.Add(pair, POLLIN)
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := poller.Poll(100 * time.Millisecond); err != nil {
				return
			}
			for {
				ev, _, _, err := pair.RecvEvent(DONTWAIT)
				if err != nil {
					break
				}
				switch ev {
				case zmq.EVENT_ACCEPTED:
					obs.Accepted()
				case zmq.EVENT_DISCONNECTED:
					obs.Disconnected()
				}
			}
		}
	}()
	return func() {
		_ = s.Monitor("", 0)
		close(done)
		<-exited
	}, nil
}
