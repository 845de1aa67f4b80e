// Package bufpool is the process's pool of byte buffers: the buffers gRPC
// takes for every message (internal/grpcx installs it as gRPC's pool), the
// arrays the store renders reads into and the replies the RPC edge
// encodes, each handed back once its bytes have been copied onward.
//
// It has a tier for every power of two up to 1 MiB and hands buffers out
// as they are, not cleared: gRPC's default pool has no size between 32 KiB
// and 1 MiB and clears a buffer's whole capacity on every Get (a 52 KB
// read cleared 1 MiB on the store and again on the edge, the largest
// single cost of such reads in both profiles). Larger buffers come from
// one more pool, allocated to size and reused by any request they fit:
// rounding them up to a power of two could nearly double what a large
// read holds.
package bufpool

import (
	"math/bits"
	"sync"
)

// Default is the process's pool.
var Default = &Pool{}

// Get returns an empty buffer of capacity n or more from Default.
func Get(n int) []byte { return (*Default.Get(n))[:0] }

// Put hands b back to Default once nothing will read or write it again.
// Any buffer may be handed back, pooled or not.
func Put(b []byte) {
	if cap(b) > 0 {
		Default.Put(&b)
	}
}

const (
	minTier = 8  // 256 B
	maxTier = 20 // 1 MiB
)

// Pool is a pool of byte buffers by size; it implements gRPC's
// mem.BufferPool.
type Pool struct {
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

// Get returns a buffer of length n; its bytes are not cleared.
func (p *Pool) Get(n int) *[]byte {
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

// Put hands a buffer back.
func (p *Pool) Put(b *[]byte) {
	c := cap(*b)
	if c > 1<<maxTier {
		p.large.Put(b)
		return
	}
	if c < 1<<minTier {
		return // too small to be worth keeping
	}
	// A buffer serves requests up to its capacity: file it under the
	// largest power of two it holds.
	p.tiers[bits.Len(uint(c))-1].Put(b)
}
