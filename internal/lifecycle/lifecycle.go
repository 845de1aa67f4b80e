// Package lifecycle turns SIGTERM/SIGINT into context cancellation: the first
// signal starts a graceful drain, a second one exits at once.
package lifecycle

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"syscall"
)

// SignalContext returns a context cancelled by the first SIGTERM or SIGINT.
// A second signal exits the process with status 1.
func SignalContext(parent context.Context, log *slog.Logger) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		select {
		case s := <-ch:
			log.Info("draining", "signal", s.String())
			cancel()
		case <-ctx.Done():
			signal.Stop(ch)
			return
		}
		s := <-ch
		log.Error("second signal, exiting now", "signal", s.String())
		os.Exit(1)
	}()
	return ctx, cancel
}

// Main runs a service until its first signal and exits the process: 0 when
// run returns nil after draining, 1 on an error.
func Main(log *slog.Logger, run func(ctx context.Context) error) {
	ctx, cancel := SignalContext(context.Background(), log)
	err := run(ctx)
	cancel()
	if err != nil {
		log.Error("stopped", "err", err)
		os.Exit(1)
	}
	log.Info("stopped")
}

// GC settings. The garbage collector runs when the heap has grown by
// GOGC percent of what was live after the last cycle. The stateless edges
// hold little, so they trade memory for throughput (a quarter more, measured
// with mpbench's ingest scenario); the store holds every retained event, in
// flat arrays the collector does not scan, so a low percent costs it little
// CPU and keeps its memory near what it retains (a million 250-byte events
// in 400 MB). Either way the heap may grow by at least MinHeadroom before a
// cycle: with few events retained, 25% of a small heap is a cycle every
// few requests, each of which also empties the buffer pools.
const (
	DefaultEdgeGC  = 400
	DefaultStoreGC = 25
	MinHeadroom    = 64 << 20
)

// TuneGC sets the GC percent unless the operator set GOGC, and keeps it
// at the percent, or higher when the live heap is small, so that a cycle
// never comes sooner than MinHeadroom of new allocation.
func TuneGC(percent int) {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(max(percent, 100*MinHeadroom/max(liveHeap(), 1<<20)))
	gcTuner{percent: percent}.arm()
}

// gcTuner re-aims the GC percent after every cycle, when the live heap is
// known: a finalizer on an unreachable object runs once per cycle.
type gcTuner struct{ percent int }

func (t gcTuner) arm() {
	sentinel := new([16]byte)
	runtime.SetFinalizer(sentinel, func(*[16]byte) {
		debug.SetGCPercent(max(t.percent, 100*MinHeadroom/max(liveHeap(), 1<<20)))
		t.arm()
	})
}

func liveHeap() int {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int(s[0].Value.Uint64())
}

// Contain runs fn and contains a panic in it: logged once with its stack,
// reported as false, the process going on. Every request handler runs in
// it, so one request that trips a bug costs that request (an INTERNAL
// answer or a counted drop), never the service and everyone else's work.
func Contain(log *slog.Logger, what string, fn func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic contained: "+what, "panic", r, "stack", string(debug.Stack()))
			ok = false
		}
	}()
	fn()
	return true
}
