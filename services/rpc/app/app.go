// Package app assembles the RPC edge: the ROUTER socket loop, the request
// handler and their metrics. mp-rpc runs it against a store over gRPC; the
// all-in-one mp against the store in the same process.
package app

import (
	"context"
	"errors"
	"time"

	"github.com/messageplane/mp/internal/edge"
	"github.com/messageplane/mp/internal/limits"
	"github.com/messageplane/mp/services/rpc/internal/handler"
	"github.com/messageplane/mp/services/rpc/internal/server"
)

// Config is the RPC edge's own configuration.
type Config struct {
	limits.Config
	Endpoint      string        `envconfig:"RPC_ENDPOINT" default:"tcp://127.0.0.1:48913" desc:"ZMQ ROUTER endpoint plugins connect to"`
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

// Validate checks the configuration.
func (c Config) Validate() error {
	if _, err := handler.ParseMode(c.ValidateMode); err != nil {
		return err
	}
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.Workers < 1 || c.Queue < 1 || c.MaxLimit < 1 || c.MaxReplyBytes < 1<<16 {
		return errors.New("MP_RPC_WORKERS, MP_RPC_QUEUE and MP_MAX_LIMIT must be at least 1, MP_MAX_REPLY_BYTES at least 65536")
	}
	return nil
}

// Run serves the RPC endpoint until ctx ends, then answers what it has read
// (within the grace period) and returns.
func Run(ctx context.Context, cfg Config, e *edge.Edge) error {
	mode, err := handler.ParseMode(cfg.ValidateMode)
	if err != nil {
		return err
	}
	m := newMetrics(e.Admin.Registry())
	bound := e.Admin.AddFlag("rpc")
	h := handler.New(handler.Config{
		Limits: cfg.Config, MaxLimit: cfg.MaxLimit, MaxReplyBytes: cfg.MaxReplyBytes, Mode: mode, StoreTimeout: cfg.StoreTimeout, Workers: cfg.Workers,
	}, e.Link, e.Log)
	defer h.Close()
	return server.Run(ctx, server.Config{
		Endpoint: cfg.Endpoint, MaxInFlight: cfg.Workers + cfg.Queue, SndHWM: cfg.SndHWM, RcvHWM: cfg.RcvHWM, MaxMsgSize: cfg.MaxMsgBytes, Grace: e.Grace,
	}, h, m, e.Log, bound)
}
