// Package publish owns the PUB socket: one goroutine takes batches of events
// from a channel and publishes each as [store.topic, event JSON]. A PUB
// socket never blocks and never receives, so the owner needs no poller.
package publish

import (
	"fmt"
	"log/slog"

	"github.com/messageplane/mp/internal/zmqx"
)

// Event is one event to publish.
type Event struct {
	Topic []byte // "{store}.{topic}"
	JSON  []byte
}

// Observer counts what the publisher did, and its subscribers' connections
// (libzmq's socket monitor: PUB itself cannot tell who listens).
type Observer interface {
	Published(n int)
	SendFailed()
	zmqx.ConnObserver
}

// Run binds the PUB socket, calls ready, and publishes every batch from in
// until in is closed; then it closes the socket, letting LINGER flush what
// is queued.
func Run(endpoint string, sndHWM int, in <-chan []Event, obs Observer, log *slog.Logger, ready func()) error {
	zctx, err := zmqx.NewContext()
	if err != nil {
		return err
	}
	defer zctx.Term()
	pub, err := zmqx.Bind(zctx, zmqx.PUB, endpoint, zmqx.Options{SndHWM: sndHWM})
	if err != nil {
		return err
	}
	defer pub.Close()
	if stop, err := zmqx.Monitor(zctx, pub, obs); err != nil {
		log.Warn("subscriber connections not counted", "err", err)
	} else {
		defer stop() // before pub.Close
	}
	log.Info("pub bound", "endpoint", endpoint, "sndhwm", sndHWM)
	ready()
	for batch := range in {
		for _, ev := range batch {
			// A PUB socket drops (silently, in libzmq) for a subscriber
			// whose queue is full; seq numbers make such gaps visible.
			if _, err := pub.SendBytes(ev.Topic, zmqx.SNDMORE|zmqx.DONTWAIT); err != nil {
				obs.SendFailed()
				continue
			}
			if _, err := pub.SendBytes(ev.JSON, zmqx.DONTWAIT); err != nil {
				obs.SendFailed()
				continue
			}
		}
		obs.Published(len(batch))
	}
	return nil
}

// Topic builds the subscription topic of an event.
func Topic(store, topic string) []byte {
	return fmt.Appendf(make([]byte, 0, len(store)+1+len(topic)), "%s.%s", store, topic)
}
