package grpcx

import (
	"google.golang.org/grpc/experimental"

	"github.com/messageplane/mp/internal/bufpool"
)

// gRPC takes every message buffer (both directions, both sides of the
// store hop) from one process-wide pool: bufpool's, whose buffers the
// store's rendered reads are handed over in.
func init() { experimental.SetDefaultBufferPool(bufpool.Default) }
