package handler

import "sync"

// seen is the highest seq of each store this edge has handed a client (a
// publish's event). Every read asks the store to show at least that much
// first: with several store replicas, a client that published through one
// and reads through another still reads its write. One number per store,
// not per client, so it costs nothing to keep; a read may wait the few
// milliseconds another client's write takes to reach the replica. Seqs
// belong to an epoch: a store that starts a new one starts them again.
type seen struct {
	mu    sync.Mutex
	epoch string
	seqs  map[string]uint64
}

func (s *seen) note(epoch, store string, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if epoch != s.epoch || s.seqs == nil {
		s.epoch, s.seqs = epoch, map[string]uint64{}
	}
	if seq > s.seqs[store] {
		s.seqs[store] = seq
	}
}

func (s *seen) of(epoch, store string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if epoch != s.epoch {
		return 0
	}
	return s.seqs[store]
}
