// Command mp-pub is Message Plane's PUB edge: it follows every store's
// ordered event stream and publishes each event once, as
// [b"{store}.{topic}", event JSON], in seq order per store.
package main

import (
	"context"
	"os"

	"github.com/messageplane/mp/internal/config"
	"github.com/messageplane/mp/internal/edge"
	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/lifecycle"
	"github.com/messageplane/mp/internal/logging"
	"github.com/messageplane/mp/services/pub/app"
)

// Config is mp-pub's configuration.
type Config struct {
	config.Common
	config.Edge
	HTTPAddr string `envconfig:"HTTP_ADDR" default:"127.0.0.1:48932" desc:"HTTP address of /healthz, /readyz, /metrics"`
	app.Config
}

const about = "mp-pub publishes every stored event on a ZMQ PUB socket as [store.topic, event JSON], in seq order per store."

func main() {
	var cfg Config
	config.Load("mp-pub", about, &cfg)
	config.Check("mp-pub", cfg.Config.Validate())
	log, err := logging.New(os.Stdout, "pub", cfg.LogLevel, cfg.LogFormat)
	config.Check("mp-pub", err)
	lifecycle.TuneGC(lifecycle.DefaultEdgeGC)
	grpcx.UseBufferPool()
	lifecycle.Main(log, func(ctx context.Context) error {
		e, err := edge.Dial("pub", cfg.Common, cfg.Edge, grpcx.MessageLimit(cfg.MaxReplyBytes), log)
		if err != nil {
			return err
		}
		defer e.Close()
		stop, err := e.Serve(ctx, cfg.HTTPAddr)
		if err != nil {
			return err
		}
		defer stop()
		return app.Run(ctx, cfg.Config, e)
	})
}
