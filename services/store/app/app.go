// Package app assembles the store service: the in-memory store, its gRPC
// server (for edges in other processes) and an in-process client (for
// edges in the same process), its metrics and readiness. mp-store runs it
// alone; the all-in-one mp runs it beside the three edges.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/messageplane/mp/internal/admin"
	"github.com/messageplane/mp/internal/grpcx"
	"github.com/messageplane/mp/internal/storelink"
	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
	"github.com/messageplane/mp/services/store/internal/server"
	"github.com/messageplane/mp/services/store/internal/store"
)

// Config is the store's own configuration.
type Config struct {
	Listen        string   `envconfig:"STORE_LISTEN" default:"127.0.0.1:48920" desc:"gRPC listen address for the edges"`
	Stores        []string `envconfig:"STORES" default:"messages,events,lifecycle,runs,export,memory" desc:"store names, comma-separated"`
	TopicMax      int      `envconfig:"TOPIC_MAX" default:"10000" desc:"topics per store"`
	TopicMaxLen   int      `envconfig:"TOPIC_MAXLEN" default:"20000" desc:"events retained per topic (oldest evicted)"`
	MaxReplyBytes int      `envconfig:"MAX_REPLY_BYTES" default:"67108864" desc:"largest read reply; sizes gRPC message limits"`
}

// Store is the store service.
type Store struct {
	cfg      Config
	svc      *store.Service
	srv      *server.Server
	stopping chan struct{}
	log      *slog.Logger
}

// New builds an empty store with a fresh epoch.
func New(cfg Config, log *slog.Logger) (*Store, error) {
	svc, err := store.New(store.Config{Stores: cfg.Stores, TopicMax: cfg.TopicMax, TopicMaxLen: cfg.TopicMaxLen})
	if err != nil {
		return nil, err
	}
	stopping := make(chan struct{})
	return &Store{cfg: cfg, svc: svc, srv: server.New(svc, stopping), stopping: stopping, log: log}, nil
}

// Client calls the store in this process, without serialization.
func (s *Store) Client() mpv1.StoreClient { return storelink.InProcess(s.srv) }

// Run registers the store's metrics on adm, serves gRPC on the configured
// address (none when it is empty) until ctx ends, then ends every Watch
// stream and stops within grace.
func (s *Store) Run(ctx context.Context, adm *admin.Server, grace time.Duration) error {
	m := newMetrics(adm.Registry(), s.svc)
	endStreams := sync.OnceFunc(func() { close(s.stopping) })
	defer endStreams()
	if s.cfg.Listen == "" {
		s.log.Info("store ready", "epoch", s.svc.Epoch(), "stores", s.cfg.Stores)
		<-ctx.Done()
		return nil
	}
	lis, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("grpc listen %s: %w", s.cfg.Listen, err)
	}
	limit := grpcx.MessageLimit(s.cfg.MaxReplyBytes)
	grpcMetrics := grpcx.NewServerMetrics(adm.Registry())
	opts := append(grpcx.ServerOptions(limit, grpcMetrics), grpc.ChainUnaryInterceptor(m.unary))
	gs := grpc.NewServer(append(opts, grpcx.Recovery(s.log)...)...)
	s.srv.Register(gs)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	grpcMetrics.InitializeMetrics(gs)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("messageplane.v1.Store", healthpb.HealthCheckResponse_SERVING)

	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	s.log.Info("ready", "grpc", lis.Addr().String(), "epoch", s.svc.Epoch(), "stores", s.cfg.Stores)

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("grpc server: %w", err)
	}
	adm.SetDraining()
	hs.Shutdown()
	endStreams()
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		s.log.Warn("grace period over, closing remaining calls")
		gs.Stop()
	}
	return nil
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Stores) == 0 {
		return errors.New("MP_STORES must name at least one store")
	}
	return nil
}
