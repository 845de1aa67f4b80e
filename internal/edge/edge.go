// Package edge is what the three edge services (rpc, ingest, pub) run with:
// the admin server their metrics and readiness go to, and their link to the
// store, over gRPC (one edge per process, with the link's metrics:
// grpc_client_*, mp_store_link_up) or in this process (the all-in-one mp,
// where the edges share one admin server).
package edge

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/messageplane/mp/internal/admin"
	"github.com/messageplane/mp/internal/config"
	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/storelink"
)

// Edge holds what every edge starts with.
type Edge struct {
	Admin *admin.Server
	Link  *storelink.Link
	Log   *slog.Logger
	Grace time.Duration // time to drain on shutdown
}

// Dial builds the admin server (not yet listening) of an edge running on
// its own and dials the store; the store link is a readiness check, its
// calls are counted in the standard grpc_client_* metrics and its state in
// mp_store_link_up.
func Dial(name string, common config.Common, cfg config.Edge, maxMsg int, log *slog.Logger) (*Edge, error) {
	adm := admin.New(name, log, common.Pprof)
	link, err := storelink.Dial(cfg.StoreAddr, maxMsg, log, grpcx.NewClientMetrics(adm.Registry()))
	if err != nil {
		return nil, err
	}
	adm.AddCheck("store", link.Ready)
	adm.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mp_store_link_up", Help: "1 while this edge's link to the store is up (the store answered Info and the connection is not failing), else 0.",
	}, func() float64 {
		if link.Ready(context.Background()) != nil {
			return 0
		}
		return 1
	}))
	return &Edge{Admin: adm, Link: link, Log: log, Grace: common.Grace}, nil
}

// Serve starts the admin listener; readiness fails as soon as ctx ends.
func (e *Edge) Serve(ctx context.Context, httpAddr string) (stop func(), err error) {
	stop, err = e.Admin.Serve(httpAddr)
	if err != nil {
		return nil, err
	}
	e.Admin.DrainOn(ctx)
	return stop, nil
}

// Close closes the store link.
func (e *Edge) Close() { e.Link.Close() }
