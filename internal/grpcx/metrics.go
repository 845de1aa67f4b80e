package grpcx

import (
	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// The standard gRPC metrics (go-grpc-middleware's Prometheus provider), so
// stock gRPC dashboards and alerts work: grpc_server_* in the store,
// grpc_client_* in every edge, streams (the store's Watch) included.
type (
	ServerMetrics = grpcprom.ServerMetrics
	ClientMetrics = grpcprom.ClientMetrics
)

// Latency buckets from 50 µs (a unary call between two processes on one
// machine takes ~0.1 ms) to ~26 s (a stream's lifetime or a stuck call).
var handlingBuckets = prometheus.ExponentialBuckets(0.00005, 2.5, 15)

// NewServerMetrics registers the grpc_server_* metrics on reg. Pass them to
// ServerOptions, and call InitializeMetrics with the server once its
// services are registered so every method starts at zero.
func NewServerMetrics(reg prometheus.Registerer) *ServerMetrics {
	m := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(handlingBuckets)))
	reg.MustRegister(m)
	return m
}

// NewClientMetrics registers the grpc_client_* metrics on reg; pass them to
// Dial.
func NewClientMetrics(reg prometheus.Registerer) *ClientMetrics {
	m := grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram(grpcprom.WithHistogramBuckets(handlingBuckets)))
	reg.MustRegister(m)
	return m
}

func serverMetricOptions(ms []*ServerMetrics) []grpc.ServerOption {
	var opts []grpc.ServerOption
	for _, m := range ms {
		opts = append(opts, grpc.ChainUnaryInterceptor(m.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(m.StreamServerInterceptor()))
	}
	return opts
}

func clientMetricOptions(ms []*ClientMetrics) []grpc.DialOption {
	var opts []grpc.DialOption
	for _, m := range ms {
		opts = append(opts, grpc.WithChainUnaryInterceptor(m.UnaryClientInterceptor()), grpc.WithChainStreamInterceptor(m.StreamClientInterceptor()))
	}
	return opts
}
