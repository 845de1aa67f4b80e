package ingest

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/messageplane/mp/internal/protocol"
)

// Stats counts what ingest did. The counters are the single source for the
// Prometheus metrics and the periodic stats line.
type Stats struct {
	Messages      atomic.Uint64
	ItemsReceived atomic.Uint64
	ItemsStored   atomic.Uint64
	Retries       atomic.Uint64
	Batches       atomic.Uint64
	Pending       atomic.Int64 // items decoded and not yet answered by the store
	dropped       map[protocol.Reason]*atomic.Uint64
	writeLatency  *prometheus.HistogramVec

	log      *slog.Logger
	mu       sync.Mutex
	lastWarn map[protocol.Reason]time.Time
	muted    map[protocol.Reason]uint64
}

// NewStats registers the ingest metrics.
func NewStats(reg prometheus.Registerer, log *slog.Logger) *Stats {
	s := &Stats{log: log, dropped: map[protocol.Reason]*atomic.Uint64{}, lastWarn: map[protocol.Reason]time.Time{}, muted: map[protocol.Reason]uint64{}}
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	reg.MustRegister(
		counter("mp_ingest_messages_total", "Messages read from the PULL socket.", &s.Messages),
		counter("mp_ingest_items_received_total", "Items carried by those messages (1 for a message carrying none).", &s.ItemsReceived),
		counter("mp_ingest_items_stored_total", "Items the store accepted.", &s.ItemsStored),
		counter("mp_ingest_store_retries_total", "Store writes retried after the store was unreachable.", &s.Retries),
		counter("mp_ingest_batches_total", "Store writes (each many items).", &s.Batches),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mp_ingest_pending_items", Help: "Items received and not yet stored."},
			func() float64 { return float64(s.Pending.Load()) }),
	)
	s.writeLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mp_ingest_store_write_duration_seconds", Help: "Latency of one store write call (a batch), by outcome: ok, or error (retried or given up).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 13), // 0.1 ms .. 6 s (the 5 s write deadline)
	}, []string{"outcome"})
	reg.MustRegister(s.writeLatency)
	for _, r := range protocol.Reasons {
		v := &atomic.Uint64{}
		s.dropped[r] = v
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "mp_ingest_dropped_total", Help: "Items dropped, by reason.", ConstLabels: prometheus.Labels{"reason": string(r)},
		}, func() float64 { return float64(v.Load()) }))
	}
	return s
}

// WriteDone records one store write call and how long it took.
func (s *Stats) WriteDone(d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	s.writeLatency.WithLabelValues(outcome).Observe(d.Seconds())
}

// Drop counts n dropped items and warns at most once a minute per reason,
// saying how many drops the silence hid.
func (s *Stats) Drop(reason protocol.Reason, n int) {
	if n <= 0 {
		return
	}
	s.dropped[reason].Add(uint64(n))
	s.mu.Lock()
	now := time.Now()
	if now.Sub(s.lastWarn[reason]) < time.Minute {
		s.muted[reason] += uint64(n)
		s.mu.Unlock()
		return
	}
	muted := s.muted[reason]
	s.muted[reason] = 0
	s.lastWarn[reason] = now
	s.mu.Unlock()
	s.log.Warn("dropped items", "reason", string(reason), "count", n, "suppressed_since_last_warning", muted)
}

// Dropped returns the drops by reason.
func (s *Stats) Dropped() map[string]uint64 {
	out := map[string]uint64{}
	for r, v := range s.dropped {
		if n := v.Load(); n > 0 {
			out[string(r)] = n
		}
	}
	return out
}

// Report logs a stats line every interval until stop is closed.
func (s *Stats) Report(interval time.Duration, stop <-chan struct{}) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last := time.Now()
	var lastRecv, lastStored uint64
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			recv, stored := s.ItemsReceived.Load(), s.ItemsStored.Load()
			secs := now.Sub(last).Seconds()
			s.log.Info("ingest stats",
				"messages", s.Messages.Load(), "items_received", recv, "items_stored", stored,
				"dropped", s.Dropped(), "pending", s.Pending.Load(), "retries", s.Retries.Load(),
				"received_per_s", int(float64(recv-lastRecv)/secs), "stored_per_s", int(float64(stored-lastStored)/secs))
			last, lastRecv, lastStored = now, recv, stored
		}
	}
}
