package grpcx

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// A real server and client with the shared options count unary calls and
// stream messages on both sides under the standard metric names.
func TestStandardMetrics(t *testing.T) {
	sreg, creg := prometheus.NewRegistry(), prometheus.NewRegistry()
	sm := NewServerMetrics(sreg)
	gs := grpc.NewServer(ServerOptions(MessageLimit(1<<20), sm)...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	sm.InitializeMetrics(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)

	conn, err := Dial(lis.Addr().String(), MessageLimit(1<<20), NewClientMetrics(creg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	hc := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatal(err)
	}

	server, client := exposition(t, sreg), exposition(t, creg)
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary"} 1`,
		// The test's Watch and the client's own health check (Dial asks
		// for one), whose first answer came before the connection was used.
		`grpc_server_msg_sent_total{grpc_method="Watch",grpc_service="grpc.health.v1.Health",grpc_type="server_stream"} 2`,
		`grpc_server_handling_seconds_count{grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary"} 1`,
		// InitializeMetrics: methods not called yet are there at zero.
		`grpc_server_handled_total{grpc_code="OK",grpc_method="List",grpc_service="grpc.health.v1.Health",grpc_type="unary"} 0`,
	} {
		if !strings.Contains(server, want+"\n") {
			t.Errorf("server metrics lack %s", want)
		}
	}
	for _, want := range []string{
		`grpc_client_handled_total{grpc_code="OK",grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary"} 1`,
		`grpc_client_msg_received_total{grpc_method="Watch",grpc_service="grpc.health.v1.Health",grpc_type="server_stream"} 1`,
		`grpc_client_handling_seconds_count{grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary"} 1`,
	} {
		if !strings.Contains(client, want+"\n") {
			t.Errorf("client metrics lack %s", want)
		}
	}
}

// exposition renders reg as /metrics would.
func exposition(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}
