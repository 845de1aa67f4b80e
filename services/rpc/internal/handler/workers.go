package handler

// workers runs store calls on goroutines that are kept for the next one: a
// fresh goroutine per request spent a tenth of the edge's CPU growing
// stacks. How many run at once is bounded by the requests in flight,
// which the socket owner bounds.
type workers struct {
	idle chan func() // unbuffered: a send succeeds only with an idle worker
}

func (w *workers) run(task func()) {
	select {
	case w.idle <- task:
	default:
		go w.loop(task)
	}
}

func (w *workers) loop(task func()) {
	for ok := true; ok; task, ok = <-w.idle {
		task()
	}
}

// stop ends the idle workers; no task may be run after it.
func (w *workers) stop() { close(w.idle) }
