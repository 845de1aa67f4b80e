package grpcx

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/experimental"
)

// gRPC takes every message buffer (both directions, both sides of the
// store hop) from one process-wide pool. Its default pool has no size
// between 32 KiB and 1 MiB and clears a buffer's whole capacity on every
// Get: a 52 KB read reply (get_recent of 100 events) cleared 1 MiB on the
// store and again on the edge, and memclr was the largest single cost of
// such reads in both profiles. This pool has a tier for every power of two
// up to 1 MiB and hands buffers out as they are: gRPC overwrites what it
// takes (reads fill, marshaling appends from empty), and the bytes never
// leave this process. Larger buffers (multi-megabyte reads) come from one
// more pool, allocated to size and reused by any request they fit: rounding
// them up to a power of two could nearly double what a large read holds.
func init() { experimental.SetDefaultBufferPool(pool) }

var pool = &bufferPool{}

// Buffer returns an empty buffer of capacity n or more from the pool gRPC
// uses. The store renders read replies into one: handed to gRPC in a
// ReadResponse, it is sent as it is and comes back to the pool once
// written (the bulk codec); dropped instead, the collector takes it.
func Buffer(n int) []byte { return (*pool.Get(n))[:0] }

const (
	minTier = 8  // 256 B
	maxTier = 20 // 1 MiB
)

type bufferPool struct {
	tiers [maxTier + 1]sync.Pool
	large sync.Pool // above 1 MiB, any size
}

// tier is the power of two a buffer of n bytes comes from.
func tier(n int) int {
	if n <= 1<<minTier {
		return minTier
	}
	return bits.Len(uint(n - 1))
}

func (p *bufferPool) Get(n int) *[]byte {
	t := tier(n)
	if t > maxTier {
		if b, ok := p.large.Get().(*[]byte); ok && cap(*b) >= n {
			*b = (*b)[:n]
			return b
		}
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.tiers[t].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<t)
	return &b
}

func (p *bufferPool) Put(b *[]byte) {
	c := cap(*b)
	if c > 1<<maxTier {
		p.large.Put(b)
		return
	}
	if c < 1<<minTier || c&(c-1) != 0 {
		return // not one of ours: left to the garbage collector
	}
	p.tiers[bits.Len(uint(c))-1].Put(b)
}
