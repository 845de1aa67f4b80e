package grpcx

import (
	"google.golang.org/grpc/experimental"

	"github.com/messageplane/mp/internal/bufpool"
)

// UseBufferPool makes gRPC take every message buffer (both directions, both
// sides of the store hop) from bufpool's pool, whose tiers fit the
// multi-megabyte reads the store sends. It changes a process-wide setting,
// so each main calls it, once, before any gRPC connection exists.
func UseBufferPool() { experimental.SetDefaultBufferPool(bufpool.Default) }
