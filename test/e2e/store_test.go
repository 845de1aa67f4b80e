package e2e

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/messageplane/mp/test/testenv"
)

// TestStoreHealth: the store serves the standard gRPC health service and
// /readyz, and stops serving on SIGTERM.
func TestStoreHealth(t *testing.T) {
	cl := testenv.NewCluster(t, nil)
	cl.StartStore(nil)
	conn, err := grpc.NewClient(cl.StoreAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, svc := range []string{"", "messageplane.v1.Store"} {
		r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q: %v %v", svc, r, err)
		}
	}
	if err := cl.Store.Stop(10 * time.Second); err != nil {
		t.Errorf("store exit: %v", err)
	}
}
