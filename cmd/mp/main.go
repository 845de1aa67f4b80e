// Command mp is all of Message Plane in one process: the store and the
// RPC, PUB and INGEST edges, the edges calling the store through the same
// client interface they use over gRPC but in process (no serialization, no
// network hop), with one HTTP listener for /healthz, /readyz and /metrics.
// It reads the variables the four services read. For one machine it is the
// simplest and fastest way to run the bus; mp-store, mp-rpc, mp-pub and
// mp-ingest run the same parts as separate services.
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/messageplane/mp/internal/admin"
	"github.com/messageplane/mp/internal/config"
	"github.com/messageplane/mp/internal/edge"
	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/lifecycle"
	"github.com/messageplane/mp/internal/logging"
	"github.com/messageplane/mp/internal/storelink"
	ingestapp "github.com/messageplane/mp/services/ingest/app"
	pubapp "github.com/messageplane/mp/services/pub/app"
	rpcapp "github.com/messageplane/mp/services/rpc/app"
	storeapp "github.com/messageplane/mp/services/store/app"
)

// The parts' configurations, embedded so their variables keep their names.
type (
	StoreConfig  = storeapp.Config
	RPCConfig    = rpcapp.Config
	PubConfig    = pubapp.Config
	IngestConfig = ingestapp.Config
)

// Config is mp's configuration: every variable of the four services.
type Config struct {
	config.Common
	HTTPAddr string `envconfig:"HTTP_ADDR" default:"127.0.0.1:48930" desc:"HTTP address of /healthz, /readyz, /metrics"`
	StoreConfig
	RPCConfig
	PubConfig
	IngestConfig
}

const about = `mp runs all of Message Plane in one process: the in-memory store and the
RPC (ROUTER), PUB and INGEST (PULL) endpoints. The store's gRPC port
(MP_STORE_LISTEN) stays open so that mp-rpc, mp-pub or mp-ingest
processes can join it; set it empty to close it.`

func main() {
	var cfg Config
	config.Load("mp", about, &cfg)
	config.Check("mp", errors.Join(cfg.StoreConfig.Validate(), cfg.RPCConfig.Validate(), cfg.PubConfig.Validate(), cfg.IngestConfig.Validate()))
	logger := func(part string) *slog.Logger {
		log, err := logging.New(os.Stdout, part, cfg.LogLevel, cfg.LogFormat)
		config.Check("mp", err)
		return log
	}
	log := logger("mp")
	st, err := storeapp.New(cfg.StoreConfig, logger("store"))
	config.Check("mp", err)
	lifecycle.TuneGC(lifecycle.DefaultStoreGC)
	grpcx.UseBufferPool()
	lifecycle.Main(log, func(ctx context.Context) error { return run(ctx, cfg, st, log, logger) })
}

// run starts every part. On shutdown the edges that take work (rpc,
// ingest) drain first, into a store that is still there; then pub
// publishes what they stored; then the store stops.
func run(ctx context.Context, cfg Config, st *storeapp.Store, log *slog.Logger, logger func(string) *slog.Logger) error {
	adm := admin.New("mp", log, cfg.Pprof)
	link := storelink.Local(st.Client(), st.WritesInline(), log)
	defer link.Close()
	adm.AddCheck("store-link", link.Ready)
	stopAdmin, err := adm.Serve(cfg.HTTPAddr)
	if err != nil {
		return err
	}
	defer stopAdmin()
	adm.DrainOn(ctx)
	edgeFor := func(part string) *edge.Edge {
		return &edge.Edge{Admin: adm, Link: link, Log: logger(part), Grace: cfg.Grace}
	}

	// A part that fails stops the others.
	failed := make(chan error, 4)
	ctx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	start := func(ctx context.Context, run func(context.Context) error) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := run(ctx); err != nil {
				failed <- err
				stopAll()
			}
		}()
		return done
	}
	storeCtx, stopStore := context.WithCancel(context.Background())
	defer stopStore()
	pubCtx, stopPub := context.WithCancel(context.Background())
	defer stopPub()

	storeDone := start(storeCtx, func(ctx context.Context) error { return st.Run(ctx, adm, cfg.Grace) })
	pubDone := start(pubCtx, func(ctx context.Context) error { return pubapp.Run(ctx, cfg.PubConfig, edgeFor("pub")) })
	rpcDone := start(ctx, func(ctx context.Context) error { return rpcapp.Run(ctx, cfg.RPCConfig, edgeFor("rpc")) })
	ingestDone := start(ctx, func(ctx context.Context) error { return ingestapp.Run(ctx, cfg.IngestConfig, edgeFor("ingest")) })

	select { // a signal, or a part failing
	case <-ctx.Done():
	case <-pubDone:
	case <-storeDone:
	}
	stopAll()
	<-rpcDone
	<-ingestDone
	stopPub()
	<-pubDone
	stopStore()
	<-storeDone
	select {
	case err := <-failed:
		return err
	default:
		return nil
	}
}
