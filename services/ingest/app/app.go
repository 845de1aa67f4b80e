// Package app assembles the INGEST edge: the PULL socket, the batcher and
// the store writer, and their metrics and stats line. mp-ingest runs it
// against a store over gRPC; the all-in-one mp against the store in the
// same process.
package app

import (
	"context"
	"errors"
	"time"

	"github.com/messageplane/mp/internal/edge"
	"github.com/messageplane/mp/internal/limits"
	"github.com/messageplane/mp/services/ingest/internal/ingest"
)

// Config is the INGEST edge's own configuration.
type Config struct {
	limits.Config
	Endpoint      string        `envconfig:"INGEST_ENDPOINT" default:"tcp://127.0.0.1:48915" desc:"ZMQ PULL endpoint plugins push to"`
	RcvHWM        int           `envconfig:"INGEST_RCVHWM" default:"10000" desc:"messages queued in the socket before senders are pushed back"`
	MaxMsgBytes   int64         `envconfig:"INGEST_MAX_MSG_BYTES" default:"67108864" desc:"largest message; a sender pushing more is disconnected"`
	BatchItems    int           `envconfig:"INGEST_BATCH_ITEMS" default:"2000" desc:"most items in one store write"`
	BatchBytes    int           `envconfig:"INGEST_BATCH_BYTES" default:"4194304" desc:"most payload bytes in one store write"`
	StoreTimeout  time.Duration `envconfig:"INGEST_STORE_TIMEOUT" default:"5s" desc:"deadline of one store write (retried until stored)"`
	StatsInterval time.Duration `envconfig:"INGEST_STATS_INTERVAL" default:"10s" desc:"period of the stats log line (0: off)"`
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.BatchItems < 1 || c.BatchBytes < 1 || c.RcvHWM < 0 {
		return errors.New("MP_INGEST_BATCH_ITEMS and MP_INGEST_BATCH_BYTES must be at least 1")
	}
	return nil
}

// MessageLimit is the largest store write this edge sends.
func (c Config) MessageLimit() int { return 2 * max(c.BatchBytes, c.PayloadMaxBytes) }

// Run takes pushed messages until ctx ends, then stores what it has read
// (within the grace period) and returns.
func Run(ctx context.Context, cfg Config, e *edge.Edge) error {
	stats := ingest.NewStats(e.Admin.Registry(), e.Log)
	bound := e.Admin.AddFlag("ingest")
	stopStats := make(chan struct{})
	defer close(stopStats)
	go stats.Report(cfg.StatsInterval, stopStats)

	return ingest.Run(ctx, ingest.Config{
		Endpoint: cfg.Endpoint, RcvHWM: cfg.RcvHWM, MaxMsgSize: cfg.MaxMsgBytes, Limits: cfg.Config,
		BatchItems: cfg.BatchItems, BatchBytes: cfg.BatchBytes, StoreTimeout: cfg.StoreTimeout, Grace: e.Grace,
	}, e.Link.Client(), stats, e.Log, bound)
}
