package zmqx

import (
	"sync"
	"testing"
	"time"
)

// TestWakerWakesOwner: wakes from many goroutines reach the owner's poll,
// coalesced, and a wake after a drain wakes it again.
func TestWakerWakesOwner(t *testing.T) {
	zctx, err := NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Term()
	w, err := NewWaker(zctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p := NewPoller()
	p.Add(w.Socket(), POLLIN)
	for round := 0; round < 50; round++ {
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() { defer wg.Done(); w.Wake() }()
		}
		polled, err := p.Poll(5 * time.Second)
		if err != nil || len(polled) != 1 {
			t.Fatalf("round %d: poll %v %v", round, polled, err)
		}
		wg.Wait()
		w.Drain()
		if polled, _ := p.Poll(0); len(polled) != 0 {
			t.Fatalf("round %d: still readable after drain", round)
		}
	}
}
