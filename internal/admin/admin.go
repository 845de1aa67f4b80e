// Package admin serves a service's HTTP endpoints: /healthz (alive, no
// dependency checks, so no restart storms), /readyz (named checks plus the
// draining flag), Prometheus /metrics, and /debug/pprof when enabled.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/messageplane/mp/internal/buildinfo"
)

// Check reports nil when the thing it checks is ready.
type Check func(ctx context.Context) error

// Server is the admin HTTP listener.
type Server struct {
	service  string
	log      *slog.Logger
	reg      *prometheus.Registry
	mu       sync.Mutex
	checks   map[string]Check
	draining atomic.Bool
	srv      *http.Server
	ln       net.Listener
}

// New builds the admin server with Go, process and build-info metrics.
func New(service string, log *slog.Logger, pprofOn bool) *Server {
	s := &Server{service: service, log: log, reg: prometheus.NewRegistry(), checks: map[string]Check{}}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	version, goVersion := buildinfo.Get()
	bi := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "mp_build_info",
		Help:        "Build information; always 1.",
		ConstLabels: prometheus.Labels{"service": service, "version": version, "goversion": goVersion},
	})
	bi.Set(1)
	s.reg.MustRegister(bi)

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", s.readyz)
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	if pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s
}

// Registry is where the service registers its metrics.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// AddCheck adds a named readiness check.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// AddFlag adds a readiness check that fails until the returned function
// is called (e.g. once a socket is bound). The function is safe from any
// goroutine.
func (s *Server) AddFlag(name string) (set func()) {
	var ok atomic.Bool
	s.AddCheck(name, func(context.Context) error {
		if !ok.Load() {
			return errors.New("not started")
		}
		return nil
	})
	return func() { ok.Store(true) }
}

// DrainOn makes /readyz fail as soon as ctx ends, before anything stops.
func (s *Server) DrainOn(ctx context.Context) {
	go func() { <-ctx.Done(); s.SetDraining() }()
}

// SetDraining makes /readyz fail from now on, so traffic moves away first.
func (s *Server) SetDraining() { s.draining.Store(true) }

// Ready runs every check; nil means ready.
func (s *Server) Ready(ctx context.Context) error {
	if s.draining.Load() {
		return errors.New("draining")
	}
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := s.checks
	s.mu.Unlock()
	sort.Strings(names)
	var failed []string
	for _, n := range names {
		if err := checks[n](ctx); err != nil {
			failed = append(failed, n+": "+err.Error())
		}
	}
	if failed != nil {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// Serve binds addr and serves until the returned stop is called.
func (s *Server) Serve(addr string) (stop func(), err error) {
	if err := s.Listen(addr); err != nil {
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}, nil
}

// Listen binds the address and serves in the background until Shutdown.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin listen %s: %w", addr, err)
	}
	s.ln = ln
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin server stopped", "err", err)
		}
	}()
	s.log.Info("admin listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops the listener.
func (s *Server) Shutdown(ctx context.Context) {
	_ = s.srv.Shutdown(ctx)
}
