// Command mp-ingest is Message Plane's INGEST edge: a ZMQ PULL socket that
// takes delta batches and snapshots from plugins and stores them through the
// store service, dropping (and counting) only items that break the rules.
package main

import (
	"context"
	"os"

	"github.com/messageplane/mp/internal/config"
	"github.com/messageplane/mp/internal/edge"
	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/lifecycle"
	"github.com/messageplane/mp/internal/logging"
	"github.com/messageplane/mp/services/ingest/app"
)

// Config is mp-ingest's configuration.
type Config struct {
	config.Common
	config.Edge
	HTTPAddr string `envconfig:"HTTP_ADDR" default:"127.0.0.1:48933" desc:"HTTP address of /healthz, /readyz, /metrics"`
	app.Config
}

const about = "mp-ingest takes delta batches and snapshots pushed over ZMQ PULL (JSON or msgpack) and stores them."

func main() {
	var cfg Config
	config.Load("mp-ingest", about, &cfg)
	config.Check("mp-ingest", cfg.Config.Validate())
	log, err := logging.New(os.Stdout, "ingest", cfg.LogLevel, cfg.LogFormat)
	config.Check("mp-ingest", err)
	lifecycle.TuneGC(lifecycle.DefaultEdgeGC)
	grpcx.UseBufferPool()
	lifecycle.Main(log, func(ctx context.Context) error {
		e, err := edge.Dial("ingest", cfg.Common, cfg.Edge, grpcx.MessageLimit(cfg.MessageLimit()), log)
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
