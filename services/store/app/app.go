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
	"github.com/messageplane/mp/services/store/internal/jetstream"
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

	Backend     string `envconfig:"STORE_BACKEND" default:"memory" desc:"memory (events live in this process only) or jetstream (NATS JetStream is the log of record: a restart loses nothing)"`
	DataDir     string `envconfig:"STORE_DATA_DIR" default:"" desc:"jetstream without MP_NATS_URL: the embedded NATS server's storage directory"`
	NatsURL     string `envconfig:"NATS_URL" default:"" desc:"jetstream: an existing NATS system (comma-separated URLs) instead of the embedded server"`
	Replicas    int    `envconfig:"JETSTREAM_REPLICAS" default:"1" desc:"jetstream: replicas of each stream (NATS cluster)"`
	Sync        string `envconfig:"JETSTREAM_SYNC" default:"default" desc:"embedded jetstream: flush to disk \"always\" or every duration (default: the server's, 2m); a crash of the process loses nothing acknowledged, power loss what came after the last flush"`
	PayloadSize int    `envconfig:"PAYLOAD_MAX_BYTES" default:"1048576" desc:"largest payload, as compact JSON bytes"`
}

// Store is the store service.
type Store struct {
	cfg      Config
	svc      *store.Service
	srv      *server.Server
	jsLog    *jetstream.Log // the log of record, or nil (memory)
	stopping chan struct{}
	log      *slog.Logger
}

// New builds the store: empty with a fresh epoch in memory, or with
// JetStream as its log of record (the view loads from it in Run).
func New(cfg Config, log *slog.Logger) (*Store, error) {
	sc := store.Config{Stores: cfg.Stores, TopicMax: cfg.TopicMax, TopicMaxLen: cfg.TopicMaxLen, Logger: log}
	var jsLog *jetstream.Log
	if cfg.Backend == "jetstream" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var err error
		jsLog, err = jetstream.Open(ctx, jetstream.Config{URL: cfg.NatsURL, DataDir: cfg.DataDir, Replicas: cfg.Replicas, Sync: cfg.Sync,
			Stores: cfg.Stores, TopicMaxLen: cfg.TopicMaxLen, MaxPayload: cfg.PayloadSize, Log: log})
		if err != nil {
			return nil, fmt.Errorf("jetstream: %w", err)
		}
		sc.Log = jsLog
	}
	svc, err := store.New(sc)
	if err != nil {
		if jsLog != nil {
			jsLog.Close()
		}
		return nil, err
	}
	stopping := make(chan struct{})
	return &Store{cfg: cfg, svc: svc, srv: server.New(svc, stopping), jsLog: jsLog, stopping: stopping, log: log}, nil
}

// Client calls the store in this process, without serialization.
func (s *Store) Client() mpv1.StoreClient { return storelink.InProcess(s.srv) }

// WritesInline reports whether a write is answered as fast as a function
// call: true in memory, false with a log of record (a round trip to it).
func (s *Store) WritesInline() bool { return s.jsLog == nil }

// Run registers the store's metrics on adm, serves gRPC on the configured
// address (none when it is empty) until ctx ends, then ends every Watch
// stream and stops within grace.
func (s *Store) Run(ctx context.Context, adm *admin.Server, grace time.Duration) error {
	m := newMetrics(adm.Registry(), s.svc)
	// Ready once the view has loaded the log and the gRPC health service
	// says so too, in that order.
	serving := adm.AddFlag("store")
	endStreams := sync.OnceFunc(func() { close(s.stopping) })
	defer endStreams()
	// The view follows the log until the very end: edges draining into
	// the store are answered once it shows their writes.
	viewCtx, stopView := context.WithCancel(context.Background())
	viewDone := make(chan struct{})
	go func() { defer close(viewDone); s.svc.Run(viewCtx) }()
	defer func() {
		stopView()
		<-viewDone
		if s.jsLog != nil {
			s.jsLog.Close()
		}
	}()
	go s.announce(ctx)
	if s.cfg.Listen == "" {
		if s.waitLoaded(ctx) {
			serving()
		}
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
	for _, name := range []string{"", "messageplane.v1.Store"} {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	go func() { // serving once the view has loaded the log
		if s.waitLoaded(ctx) {
			for _, name := range []string{"", "messageplane.v1.Store"} {
				hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
			}
			serving()
		}
	}()

	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	s.log.Info("listening", "grpc", lis.Addr().String())

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

// waitLoaded waits until the view has loaded the log (false: ctx ended).
func (s *Store) waitLoaded(ctx context.Context) bool {
	select {
	case <-s.svc.Ready():
		return true
	case <-ctx.Done():
		return false
	}
}

// announce logs the store ready once its view has loaded.
func (s *Store) announce(ctx context.Context) {
	start := time.Now()
	if s.waitLoaded(ctx) {
		s.log.Info("store ready", "backend", s.cfg.Backend, "epoch", s.svc.Epoch(), "stores", s.cfg.Stores,
			"loaded_in", time.Since(start).Round(time.Millisecond).String())
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Stores) == 0 {
		return errors.New("MP_STORES must name at least one store")
	}
	switch c.Backend {
	case "memory":
	case "jetstream":
		if c.NatsURL == "" && c.DataDir == "" {
			return errors.New("MP_STORE_BACKEND=jetstream needs MP_STORE_DATA_DIR (embedded NATS) or MP_NATS_URL")
		}
	default:
		return fmt.Errorf("MP_STORE_BACKEND %q is not memory or jetstream", c.Backend)
	}
	return nil
}
