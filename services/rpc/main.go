// Command mp-rpc is Message Plane's RPC edge: a ZMQ ROUTER that answers the
// requests of docs/PROTOCOL.md by calling the store service over gRPC.
package main

import (
	"context"
	"os"

	"github.com/messageplane/mp/internal/config"
	"github.com/messageplane/mp/internal/edge"
	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/lifecycle"
	"github.com/messageplane/mp/internal/logging"
	"github.com/messageplane/mp/services/rpc/app"
)

// Config is mp-rpc's configuration.
type Config struct {
	config.Common
	config.Edge
	HTTPAddr string `envconfig:"HTTP_ADDR" default:"127.0.0.1:48931" desc:"HTTP address of /healthz, /readyz, /metrics"`
	app.Config
}

const about = "mp-rpc answers Message Plane RPC requests (JSON or msgpack over ZMQ ROUTER) using the store service."

func main() {
	var cfg Config
	config.Load("mp-rpc", about, &cfg)
	config.Check("mp-rpc", cfg.Config.Validate())
	log, err := logging.New(os.Stdout, "rpc", cfg.LogLevel, cfg.LogFormat)
	config.Check("mp-rpc", err)
	lifecycle.TuneGC(lifecycle.DefaultEdgeGC)
	grpcx.UseBufferPool()
	lifecycle.Main(log, func(ctx context.Context) error {
		e, err := edge.Dial("rpc", cfg.Common, cfg.Edge, grpcx.MessageLimit(cfg.MaxReplyBytes), log)
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
