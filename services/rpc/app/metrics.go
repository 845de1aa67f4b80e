package app

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/messageplane/mp/services/rpc/internal/handler"
)

// metrics implements server.Observer.
type metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inFlight   prometheus.Gauge
	unroutable prometheus.Counter
	dropped    prometheus.Counter
	badFrames  prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mp_rpc_requests_total", Help: "RPC requests by op (unknown ops folded into \"unknown\") and outcome (ok or the error code).",
		}, []string{"op", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mp_rpc_request_duration_seconds", Help: "Time from reading a request to its reply being ready, by op.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}, []string{"op"}),
		inFlight:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "mp_rpc_in_flight_requests", Help: "Requests read and not yet answered."}),
		unroutable: prometheus.NewCounter(prometheus.CounterOpts{Name: "mp_rpc_unroutable_replies_total", Help: "Replies whose client had disconnected."}),
		dropped:    prometheus.NewCounter(prometheus.CounterOpts{Name: "mp_rpc_dropped_replies_total", Help: "Replies dropped because the client's queue was full."}),
		badFrames:  prometheus.NewCounter(prometheus.CounterOpts{Name: "mp_rpc_bad_frames_total", Help: "Messages that could not be answered (no body frame)."}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.unroutable, m.dropped, m.badFrames)
	return m
}

func opLabel(op string) string {
	if slices.Contains(handler.Ops, op) {
		return op
	}
	return "unknown"
}

func (m *metrics) Done(op, outcome string, d time.Duration) {
	op = opLabel(op)
	m.requests.WithLabelValues(op, outcome).Inc()
	m.duration.WithLabelValues(op).Observe(d.Seconds())
}
func (m *metrics) InFlight(n int) { m.inFlight.Set(float64(n)) }
func (m *metrics) Unroutable()    { m.unroutable.Inc() }
func (m *metrics) ReplyDropped()  { m.dropped.Inc() }
func (m *metrics) BadFrame()      { m.badFrames.Inc() }
