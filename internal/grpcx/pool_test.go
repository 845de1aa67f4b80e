package grpcx

import (
	"testing"

	"google.golang.org/grpc/mem"

	"github.com/messageplane/mp/internal/bufpool"
)

// TestUseBufferPool: importing grpcx changes nothing process-wide; a main
// that asks for bufpool's pool gets it.
func TestUseBufferPool(t *testing.T) {
	if mem.DefaultBufferPool() == mem.BufferPool(bufpool.Default) {
		t.Fatal("importing grpcx replaced gRPC's pool")
	}
	UseBufferPool()
	if mem.DefaultBufferPool() != mem.BufferPool(bufpool.Default) {
		t.Fatalf("gRPC's default pool is %T", mem.DefaultBufferPool())
	}
}
