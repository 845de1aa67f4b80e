package bufpool

import (
	"testing"

	"google.golang.org/grpc/mem"
)

func TestBufferPool(t *testing.T) {
	var p Pool
	for _, c := range []struct{ n, cap int }{{0, 256}, {1, 256}, {256, 256}, {257, 512}, {52_000, 64 << 10}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1}, {5 << 20, 5 << 20}} {
		b := p.Get(c.n)
		if len(*b) != c.n || cap(*b) != c.cap {
			t.Errorf("Get(%d): len %d cap %d, want cap %d", c.n, len(*b), cap(*b), c.cap)
		}
		p.Put(b)
	}
	// A returned buffer is handed out again for any size of its tier.
	b := p.Get(3000)
	(*b)[0] = 7
	p.Put(b)
	again := p.Get(2100)
	if len(*again) != 2100 || cap(*again) != 4096 {
		t.Fatalf("reuse: len %d cap %d", len(*again), cap(*again))
	}
	// A large buffer serves any large request it fits, at that length.
	// (sync.Pool may drop a Put, as it does at random under -race: retry.)
	reused := false
	for range 20 {
		p.Put(p.Get(5 << 20))
		got := p.Get(3 << 20)
		if len(*got) != 3<<20 {
			t.Fatalf("large Get: len %d", len(*got))
		}
		if reused = cap(*got) == 5<<20; reused {
			break
		}
	}
	if !reused {
		t.Error("a returned large buffer was never handed out again")
	}
	// A buffer of any capacity serves requests up to its capacity, never
	// beyond (retried: sync.Pool may drop a Put).
	for range 100 {
		odd := make([]byte, 1000)
		p.Put(&odd)
		if got := p.Get(512); cap(*got) == 1000 {
			return
		} else if cap(*got) < 512 {
			t.Fatalf("Get(512) handed out cap %d", cap(*got))
		}
	}
	t.Error("a handed-back buffer of capacity 1000 never served a request of 512")
}

func BenchmarkBufferPool52KB(b *testing.B) {
	for _, c := range []struct {
		name string
		pool mem.BufferPool
	}{{"messageplane", &Pool{}}, {"grpc-default", func() mem.BufferPool {
		p, _ := mem.NewBinaryTieredBufferPool(8, 12, 14, 15, 20)
		return p
	}()}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				buf := c.pool.Get(52_000)
				c.pool.Put(buf)
			}
		})
	}
}
