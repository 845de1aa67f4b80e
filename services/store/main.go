// Command mp-store is Message Plane's stateful service: every store, topic
// and event lives here, served to the edges over internal gRPC.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/messageplane/mp/internal/admin"
	"github.com/messageplane/mp/internal/config"
	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/lifecycle"
	"github.com/messageplane/mp/internal/logging"
	"github.com/messageplane/mp/services/store/internal/server"
	"github.com/messageplane/mp/services/store/internal/store"
)

// Config is mp-store's configuration.
type Config struct {
	config.Common
	Listen        string   `envconfig:"STORE_LISTEN" default:"127.0.0.1:48920" desc:"gRPC listen address for the edges"`
	HTTPAddr      string   `envconfig:"HTTP_ADDR" default:"127.0.0.1:48930" desc:"HTTP address of /healthz, /readyz, /metrics"`
	Stores        []string `envconfig:"STORES" default:"messages,events,lifecycle,runs,export,memory" desc:"store names, comma-separated"`
	TopicMax      int      `envconfig:"TOPIC_MAX" default:"10000" desc:"topics per store"`
	TopicMaxLen   int      `envconfig:"TOPIC_MAXLEN" default:"20000" desc:"events retained per topic (oldest evicted)"`
	MaxReplyBytes int      `envconfig:"MAX_REPLY_BYTES" default:"67108864" desc:"largest read reply; sizes gRPC message limits"`
}

const about = "mp-store holds Message Plane's stores in memory and serves them over gRPC to the rpc, ingest and pub edges."

func main() {
	var cfg Config
	config.Load("mp-store", about, &cfg)
	log, err := logging.New(os.Stdout, "store", cfg.LogLevel, cfg.LogFormat)
	config.Check("mp-store", err)
	svc, err := store.New(store.Config{Stores: cfg.Stores, TopicMax: cfg.TopicMax, TopicMaxLen: cfg.TopicMaxLen})
	config.Check("mp-store", err)
	lifecycle.TuneGC(lifecycle.DefaultStoreGC)
	lifecycle.Main(log, func(ctx context.Context) error { return run(ctx, cfg, svc, log) })
}

func run(ctx context.Context, cfg Config, svc *store.Service, log *slog.Logger) error {
	adm := admin.New("store", log, cfg.Pprof)
	metrics := newMetrics(adm.Registry(), svc)

	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("grpc listen %s: %w", cfg.Listen, err)
	}
	limit := grpcx.MessageLimit(cfg.MaxReplyBytes)
	grpcMetrics := grpcx.NewServerMetrics(adm.Registry())
	opts := append(grpcx.ServerOptions(limit, grpcMetrics), grpc.ChainUnaryInterceptor(metrics.unary))
	gs := grpc.NewServer(append(opts, grpcx.Recovery(log)...)...)
	stopping := make(chan struct{})
	server.New(svc, stopping).Register(gs)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	grpcMetrics.InitializeMetrics(gs)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("messageplane.v1.Store", healthpb.HealthCheckResponse_SERVING)

	stopAdmin, err := adm.Serve(cfg.HTTPAddr)
	if err != nil {
		return err
	}
	defer stopAdmin()
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	log.Info("ready", "grpc", lis.Addr().String(), "epoch", svc.Epoch(), "stores", cfg.Stores)

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("grpc server: %w", err)
	}
	adm.SetDraining()
	hs.Shutdown()
	close(stopping)
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.Grace):
		log.Warn("grace period over, closing remaining calls")
		gs.Stop()
	}
	return nil
}
