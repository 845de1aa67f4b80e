// Command mp-ingest is Message Plane's INGEST edge: a ZMQ PULL socket that
// takes delta batches and snapshots from plugins and stores them through the
// store service, dropping (and counting) only items that break the rules.
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/messageplane/mp/internal/config"
	"github.com/messageplane/mp/internal/edge"
	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/lifecycle"
	"github.com/messageplane/mp/internal/limits"
	"github.com/messageplane/mp/internal/logging"
	"github.com/messageplane/mp/services/ingest/internal/ingest"
)

// Config is mp-ingest's configuration.
type Config struct {
	config.Common
	config.Edge
	limits.Config
	Endpoint      string        `envconfig:"INGEST_ENDPOINT" default:"tcp://127.0.0.1:48915" desc:"ZMQ PULL endpoint plugins push to"`
	RcvHWM        int           `envconfig:"INGEST_RCVHWM" default:"10000" desc:"messages queued in the socket before senders are pushed back"`
	MaxMsgBytes   int64         `envconfig:"INGEST_MAX_MSG_BYTES" default:"67108864" desc:"largest message; a sender pushing more is disconnected"`
	HTTPAddr      string        `envconfig:"HTTP_ADDR" default:"127.0.0.1:48933" desc:"HTTP address of /healthz, /readyz, /metrics"`
	BatchItems    int           `envconfig:"INGEST_BATCH_ITEMS" default:"2000" desc:"most items in one store write"`
	BatchBytes    int           `envconfig:"INGEST_BATCH_BYTES" default:"4194304" desc:"most payload bytes in one store write"`
	StoreTimeout  time.Duration `envconfig:"INGEST_STORE_TIMEOUT" default:"5s" desc:"deadline of one store write (retried until stored)"`
	StatsInterval time.Duration `envconfig:"INGEST_STATS_INTERVAL" default:"10s" desc:"period of the stats log line (0: off)"`
}

const about = "mp-ingest takes delta batches and snapshots pushed over ZMQ PULL (JSON or msgpack) and stores them."

func main() {
	var cfg Config
	config.Load("mp-ingest", about, &cfg)
	err := cfg.Config.Validate()
	if err == nil && (cfg.BatchItems < 1 || cfg.BatchBytes < 1 || cfg.RcvHWM < 0) {
		err = errors.New("MP_INGEST_BATCH_ITEMS and MP_INGEST_BATCH_BYTES must be at least 1")
	}
	config.Check("mp-ingest", err)
	log, err := logging.New(os.Stdout, "ingest", cfg.LogLevel, cfg.LogFormat)
	config.Check("mp-ingest", err)
	lifecycle.TuneGC(lifecycle.DefaultEdgeGC)
	lifecycle.Main(log, func(ctx context.Context) error { return run(ctx, cfg, log) })
}

func run(ctx context.Context, cfg Config, log *slog.Logger) error {
	e, err := edge.New("ingest", cfg.Common, cfg.Edge, grpcx.MessageLimit(2*max(cfg.BatchBytes, cfg.PayloadMaxBytes)), log)
	if err != nil {
		return err
	}
	defer e.Close()
	stats := ingest.NewStats(e.Admin.Registry(), log)
	stopAdmin, err := e.Serve(ctx, cfg.HTTPAddr)
	if err != nil {
		return err
	}
	defer stopAdmin()

	stopStats := make(chan struct{})
	defer close(stopStats)
	go stats.Report(cfg.StatsInterval, stopStats)

	return ingest.Run(ctx, ingest.Config{
		Endpoint: cfg.Endpoint, RcvHWM: cfg.RcvHWM, MaxMsgSize: cfg.MaxMsgBytes, Limits: cfg.Config,
		BatchItems: cfg.BatchItems, BatchBytes: cfg.BatchBytes, StoreTimeout: cfg.StoreTimeout, Grace: cfg.Grace,
	}, e.Link.Client(), stats, log, e.Bound)
}
