// Command mp-store is Message Plane's stateful service: every store, topic
// and event lives here, served to the edges over internal gRPC.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/messageplane/mp/internal/admin"
	"github.com/messageplane/mp/internal/config"
	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/lifecycle"
	"github.com/messageplane/mp/internal/logging"
	"github.com/messageplane/mp/services/store/app"
)

// Config is mp-store's configuration.
type Config struct {
	config.Common
	HTTPAddr string `envconfig:"HTTP_ADDR" default:"127.0.0.1:48930" desc:"HTTP address of /healthz, /readyz, /metrics"`
	app.Config
}

const about = "mp-store holds Message Plane's stores in memory and serves them over gRPC to the rpc, ingest and pub edges."

func main() {
	var cfg Config
	config.Load("mp-store", about, &cfg)
	config.Check("mp-store", cfg.Config.Validate())
	if cfg.Listen == "" {
		config.Check("mp-store", errors.New("MP_STORE_LISTEN must be set: the edges reach the store there"))
	}
	log, err := logging.New(os.Stdout, "store", cfg.LogLevel, cfg.LogFormat)
	config.Check("mp-store", err)
	st, err := app.New(cfg.Config, log)
	config.Check("mp-store", err)
	lifecycle.TuneGC(lifecycle.DefaultStoreGC)
	grpcx.UseBufferPool()
	lifecycle.Main(log, func(ctx context.Context) error {
		adm := admin.New("store", log, cfg.Pprof)
		stop, err := adm.Serve(cfg.HTTPAddr)
		if err != nil {
			return err
		}
		defer stop()
		return st.Run(ctx, adm, cfg.Grace)
	})
}
