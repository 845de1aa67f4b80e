// Command mplb is a small TCP balancer for scaled ingest replicas: plugins
// keep pushing to one address, and each new connection goes to the next
// replica that accepts it. The backend name is resolved again for every
// connection, so replicas added with `docker compose up --scale ingest=N`
// (one DNS record each) are picked up without a restart. A ZMQ PUSH
// connection is long-lived, so load spreads per plugin connection. An admin
// listener (MPLB_HTTP_ADDR) serves the health check and metrics.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/messageplane/mp/internal/admin"
	"github.com/messageplane/mp/internal/buildinfo"
)

func main() {
	listen := flag.String("listen", envOr("MPLB_LISTEN", "0.0.0.0:48915"), "address to accept connections on (MPLB_LISTEN)")
	backend := flag.String("backend", envOr("MPLB_BACKEND", "ingest:48915"), "host:port of the replicas; the host may resolve to many addresses (MPLB_BACKEND)")
	httpAddr := flag.String("http", envOr("MPLB_HTTP_ADDR", "127.0.0.1:48934"), "address of /healthz, /readyz (listening, backend name resolves) and /metrics (MPLB_HTTP_ADDR)")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		fmt.Println(buildinfo.String("mplb"))
		return
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("service", "mplb")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, *listen, *backend, *httpAddr, log); err != nil {
		log.Error("stopped", "err", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// metrics of the balancer, on its admin listener.
type metrics struct {
	open     prometheus.Gauge
	accepted prometheus.Counter
	failed   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		open:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "mp_lb_connections", Help: "Plugin connections being relayed now."}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "mp_lb_connections_accepted_total", Help: "Plugin connections accepted."}),
		failed:   prometheus.NewCounter(prometheus.CounterOpts{Name: "mp_lb_backend_failures_total", Help: "Plugin connections closed because no replica resolved or accepted them."}),
	}
	reg.MustRegister(m.open, m.accepted, m.failed)
	return m
}

func run(ctx context.Context, listen, backend, httpAddr string, log *slog.Logger) error {
	host, port, err := net.SplitHostPort(backend)
	if err != nil {
		return fmt.Errorf("backend %q: %w", backend, err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	adm := admin.New("lb", log, false)
	m := newMetrics(adm.Registry())
	// Ready while the backend name resolves: with no replica left (or none
	// started yet) every connection would be closed at once.
	adm.AddCheck("backend", func(ctx context.Context) error {
		addrs, err := net.DefaultResolver.LookupHost(ctx, host)
		if err == nil && len(addrs) == 0 {
			err = errors.New("no address")
		}
		return err
	})
	if httpAddr != "" {
		stopAdmin, err := adm.Serve(httpAddr)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopAdmin()
		adm.DrainOn(ctx)
	}
	log.Info("balancing", "listen", ln.Addr().String(), "backend", backend)
	go func() { <-ctx.Done(); ln.Close() }()
	var next atomic.Uint64
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		m.accepted.Inc()
		m.open.Inc()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer m.open.Dec()
			if !serve(ctx, conn, host, port, &next, log) {
				m.failed.Inc()
			}
		}()
	}
}

// serve connects conn to the next replica that accepts, then copies both
// ways; false means no replica took the connection.
func serve(ctx context.Context, conn net.Conn, host, port string, next *atomic.Uint64, log *slog.Logger) bool {
	defer conn.Close()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil || len(addrs) == 0 {
		log.Warn("no replica", "backend", host, "err", err)
		return false
	}
	start := int(next.Add(1))
	var up net.Conn
	for i := range addrs {
		a := net.JoinHostPort(addrs[(start+i)%len(addrs)], port)
		if up, err = net.DialTimeout("tcp", a, 2*time.Second); err == nil {
			break
		}
	}
	if up == nil {
		log.Warn("no replica accepted the connection", "backend", host, "err", err)
		return false
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			log.Debug("connection ended", "err", err)
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, conn)
	go pipe(conn, up)
	select {
	case <-done:
	case <-ctx.Done():
	}
	return true
}
