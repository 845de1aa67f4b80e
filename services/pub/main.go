// Command mp-pub is Message Plane's PUB edge: it follows every store's
// ordered event stream and publishes each event once, as
// [b"{store}.{topic}", event JSON], in seq order per store.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/messageplane/mp/internal/config"
	"github.com/messageplane/mp/internal/edge"
	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/lifecycle"
	"github.com/messageplane/mp/internal/logging"
	"github.com/messageplane/mp/services/pub/internal/follow"
	"github.com/messageplane/mp/services/pub/internal/publish"
)

// Config is mp-pub's configuration.
type Config struct {
	config.Common
	config.Edge
	Endpoint      string `envconfig:"PUB_ENDPOINT" default:"tcp://127.0.0.1:48914" desc:"ZMQ PUB endpoint subscribers connect to"`
	SndHWM        int    `envconfig:"PUB_SNDHWM" default:"100000" desc:"messages queued per subscriber before PUB drops for it"`
	HTTPAddr      string `envconfig:"HTTP_ADDR" default:"127.0.0.1:48932" desc:"HTTP address of /healthz, /readyz, /metrics"`
	MaxReplyBytes int    `envconfig:"MAX_REPLY_BYTES" default:"67108864" desc:"sizes gRPC message limits (Watch batches)"`
}

const about = "mp-pub publishes every stored event on a ZMQ PUB socket as [store.topic, event JSON], in seq order per store."

func main() {
	var cfg Config
	config.Load("mp-pub", about, &cfg)
	if cfg.SndHWM < 0 {
		config.Check("mp-pub", errors.New("MP_PUB_SNDHWM must not be negative"))
	}
	log, err := logging.New(os.Stdout, "pub", cfg.LogLevel, cfg.LogFormat)
	config.Check("mp-pub", err)
	lifecycle.TuneGC(lifecycle.DefaultEdgeGC)
	lifecycle.Main(log, func(ctx context.Context) error { return run(ctx, cfg, log) })
}

func run(ctx context.Context, cfg Config, log *slog.Logger) error {
	e, err := edge.New("pub", cfg.Common, cfg.Edge, grpcx.MessageLimit(cfg.MaxReplyBytes), log)
	if err != nil {
		return err
	}
	defer e.Close()
	m := newMetrics(e.Admin.Registry())
	e.Admin.AddCheck("streams", func(context.Context) error {
		if n := m.streamsDown(); n > 0 {
			return fmt.Errorf("%d store streams down", n)
		}
		return nil
	})
	stopAdmin, err := e.Serve(ctx, cfg.HTTPAddr)
	if err != nil {
		return err
	}
	defer stopAdmin()

	events := make(chan []publish.Event, 64)
	pubDone := make(chan error, 1)
	go func() {
		pubDone <- publish.Run(cfg.Endpoint, cfg.SndHWM, events, m, log, e.Bound)
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
					f := follow.New(name, e.Link.Client(), events, m, log)
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
	case <-time.After(cfg.Grace):
		return errors.New("publisher did not flush within the grace period")
	}
}
