// Package edge is the start-up the three edge services (rpc, ingest, pub)
// share: the admin listener, the store link with its readiness check and
// metrics (grpc_client_*, mp_store_link_up), and a readiness flag raised once
// the edge's ZMQ socket is bound.
package edge

import (
	"context"
	"log/slog"

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
	// Bound marks the edge's socket bound (a readiness check until then).
	Bound func()
}

// New builds the admin server (not yet listening) and dials the store,
// counting the store calls in the standard grpc_client_* metrics.
func New(name string, common config.Common, cfg config.Edge, maxMsg int, log *slog.Logger) (*Edge, error) {
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
	return &Edge{Admin: adm, Link: link, Bound: adm.AddFlag(name)}, nil
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
