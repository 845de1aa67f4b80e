package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/messageplane/mp/services/store/internal/store"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry, svc *store.Service) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mp_store_requests_total", Help: "gRPC calls by method and status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mp_store_request_duration_seconds", Help: "gRPC call latency by method.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}, []string{"method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	// Store names come from config, so they are a bounded label.
	for _, name := range svc.Names() {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mp_store_head_seq", Help: "Highest seq assigned in the store.", ConstLabels: prometheus.Labels{"store": name},
		}, headOf(svc, name, func(h store.Head) float64 { return float64(h.HeadSeq) })))
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mp_store_topics", Help: "Topics in the store.", ConstLabels: prometheus.Labels{"store": name},
		}, headOf(svc, name, func(h store.Head) float64 { return float64(h.TopicCount) })))
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mp_store_retained_events", Help: "Events retained in the store.", ConstLabels: prometheus.Labels{"store": name},
		}, headOf(svc, name, func(h store.Head) float64 { return float64(h.Retained) })))
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mp_store_retained_bytes", Help: "Approximate memory of the events retained in the store.", ConstLabels: prometheus.Labels{"store": name},
		}, headOf(svc, name, func(h store.Head) float64 { return float64(h.RetainedBytes) })))
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "mp_store_evicted_events_total", Help: "Events evicted because their topic held MP_TOPIC_MAXLEN newer ones.", ConstLabels: prometheus.Labels{"store": name},
		}, headOf(svc, name, func(h store.Head) float64 { return float64(h.Evicted) })))
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "mp_store_log_resumes_total", Help: "Times following the log of record (JetStream) broke and resumed after the last record shown.", ConstLabels: prometheus.Labels{"store": name},
		}, headOf(svc, name, func(h store.Head) float64 { return float64(h.LogResumes) })))
	}
	return m
}

func headOf(svc *store.Service, name string, f func(store.Head) float64) func() float64 {
	return func() float64 {
		for _, h := range svc.Heads() {
			if h.Name == name {
				return f(h)
			}
		}
		return 0
	}
}

func (m *metrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	method := info.FullMethod
	m.duration.WithLabelValues(method).Observe(time.Since(start).Seconds())
	m.requests.WithLabelValues(method, status.Code(err).String()).Inc()
	return resp, err
}
