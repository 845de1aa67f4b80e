// Command mp-rpc is Message Plane's RPC edge: a ZMQ ROUTER that answers the
// requests of docs/PROTOCOL.md by calling the store service over gRPC.
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
	"github.com/messageplane/mp/services/rpc/internal/handler"
	"github.com/messageplane/mp/services/rpc/internal/server"
)

// Config is mp-rpc's configuration.
type Config struct {
	config.Common
	config.Edge
	limits.Config
	Endpoint      string        `envconfig:"RPC_ENDPOINT" default:"tcp://127.0.0.1:48913" desc:"ZMQ ROUTER endpoint plugins connect to"`
	HTTPAddr      string        `envconfig:"HTTP_ADDR" default:"127.0.0.1:48931" desc:"HTTP address of /healthz, /readyz, /metrics"`
	MaxLimit      int           `envconfig:"MAX_LIMIT" default:"10000" desc:"most items one read returns (larger limits are clamped)"`
	MaxReplyBytes int           `envconfig:"MAX_REPLY_BYTES" default:"67108864" desc:"largest reply; longer reads are cut and say truncated"`
	ValidateMode  string        `envconfig:"VALIDATE_MODE" default:"strict" desc:"strict (BAD_ARGS), warn (log, use defaults) or off"`
	StoreTimeout  time.Duration `envconfig:"RPC_STORE_TIMEOUT" default:"1500ms" desc:"deadline of each store call; past it the answer is UNAVAILABLE"`
	Workers       int           `envconfig:"RPC_WORKERS" default:"64" desc:"store reads served concurrently (publishes are group-committed and take no worker)"`
	Queue         int           `envconfig:"RPC_QUEUE" default:"1024" desc:"requests in progress beyond the workers; past both the edge stops reading and ZMQ queues"`
	SndHWM        int           `envconfig:"RPC_SNDHWM" default:"100000" desc:"ROUTER send high-water mark"`
	RcvHWM        int           `envconfig:"RPC_RCVHWM" default:"100000" desc:"ROUTER receive high-water mark"`
	MaxMsgBytes   int64         `envconfig:"RPC_MAX_MSG_BYTES" default:"16777216" desc:"largest request frame; a client sending more is disconnected (keep above MP_PAYLOAD_MAX_BYTES)"`
}

const about = "mp-rpc answers Message Plane RPC requests (JSON or msgpack over ZMQ ROUTER) using the store service."

func main() {
	var cfg Config
	config.Load("mp-rpc", about, &cfg)
	mode, err := handler.ParseMode(cfg.ValidateMode)
	if err == nil {
		err = cfg.Config.Validate()
	}
	if err == nil && (cfg.Workers < 1 || cfg.Queue < 1 || cfg.MaxLimit < 1 || cfg.MaxReplyBytes < 1<<16) {
		err = errors.New("MP_RPC_WORKERS, MP_RPC_QUEUE and MP_MAX_LIMIT must be at least 1, MP_MAX_REPLY_BYTES at least 65536")
	}
	config.Check("mp-rpc", err)
	log, err := logging.New(os.Stdout, "rpc", cfg.LogLevel, cfg.LogFormat)
	config.Check("mp-rpc", err)
	lifecycle.TuneGC(lifecycle.DefaultEdgeGC)
	lifecycle.Main(log, func(ctx context.Context) error { return run(ctx, cfg, mode, log) })
}

func run(ctx context.Context, cfg Config, mode handler.Mode, log *slog.Logger) error {
	e, err := edge.New("rpc", cfg.Common, cfg.Edge, grpcx.MessageLimit(cfg.MaxReplyBytes), log)
	if err != nil {
		return err
	}
	defer e.Close()
	m := newMetrics(e.Admin.Registry())
	stopAdmin, err := e.Serve(ctx, cfg.HTTPAddr)
	if err != nil {
		return err
	}
	defer stopAdmin()

	h := handler.New(handler.Config{
		Limits: cfg.Config, MaxLimit: cfg.MaxLimit, MaxReplyBytes: cfg.MaxReplyBytes, Mode: mode, StoreTimeout: cfg.StoreTimeout, Workers: cfg.Workers,
	}, e.Link, log)
	defer h.Close()
	return server.Run(ctx, server.Config{
		Endpoint: cfg.Endpoint, MaxInFlight: cfg.Workers + cfg.Queue, SndHWM: cfg.SndHWM, RcvHWM: cfg.RcvHWM, MaxMsgSize: cfg.MaxMsgBytes, Grace: cfg.Grace,
	}, h, m, log, e.Bound)
}
