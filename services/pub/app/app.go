// Package app assembles the PUB edge: one follower per store feeding the
// PUB socket's owner, and their metrics. mp-pub runs it against a store
// over gRPC; the all-in-one mp against the store in the same process.
package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/messageplane/mp/internal/edge"
	"github.com/messageplane/mp/services/pub/internal/follow"
	"github.com/messageplane/mp/services/pub/internal/publish"
)

// Config is the PUB edge's own configuration.
type Config struct {
	Endpoint      string `envconfig:"PUB_ENDPOINT" default:"tcp://127.0.0.1:48914" desc:"ZMQ PUB endpoint subscribers connect to"`
	SndHWM        int    `envconfig:"PUB_SNDHWM" default:"100000" desc:"messages queued per subscriber before PUB drops for it"`
	MaxReplyBytes int    `envconfig:"MAX_REPLY_BYTES" default:"67108864" desc:"sizes gRPC message limits (Watch batches)"`
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.SndHWM < 0 {
		return errors.New("MP_PUB_SNDHWM must not be negative")
	}
	return nil
}

// Run publishes every store's events until ctx ends, then flushes the PUB
// socket (within the grace period) and returns.
func Run(ctx context.Context, cfg Config, e *edge.Edge) error {
	m := newMetrics(e.Admin.Registry())
	e.Admin.AddCheck("streams", func(context.Context) error {
		if n := m.streamsDown(); n > 0 {
			return fmt.Errorf("%d store streams down", n)
		}
		return nil
	})
	bound := e.Admin.AddFlag("pub")

	events := make(chan []publish.Event, 64)
	pubDone := make(chan error, 1)
	go func() {
		pubDone <- publish.Run(cfg.Endpoint, cfg.SndHWM, events, m, e.Log, bound)
	}()

	// One follower per store; stores that appear after a store restart get
	// theirs when they are first seen.
	var wg sync.WaitGroup
	following := map[string]bool{}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		if names, err := e.Link.Stores(); err == nil {
			for _, name := range names {
				if !following[name] {
					following[name] = true
					m.follow(name)
					f := follow.New(name, e.Link.Client(), events, m, e.Log)
					wg.Add(1)
					go func() { defer wg.Done(); f.Run(ctx) }()
				}
			}
		}
		select {
		case <-ctx.Done():
			break loop
		case err := <-pubDone:
			return err
		case <-tick.C:
		}
	}
	wg.Wait()
	close(events)
	select {
	case err := <-pubDone:
		return err
	case <-time.After(e.Grace):
		return errors.New("publisher did not flush within the grace period")
	}
}
