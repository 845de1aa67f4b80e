package lifecycle

import (
	"bytes"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestContain(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ran := false
	if !Contain(log, "calm", func() { ran = true }) || !ran {
		t.Fatal("a calm function is not run or reported as panicking")
	}
	if Contain(log, "request x", func() { panic("boom") }) {
		t.Fatal("a panic is reported as ok")
	}
	if out := buf.String(); !strings.Contains(out, "panic contained: request x") || !strings.Contains(out, "boom") || !strings.Contains(out, "lifecycle_test.go") {
		t.Fatalf("panic not logged with its stack: %s", out)
	}
}

// TestTuneGCKeepsHeadroom: a small heap gets at least MinHeadroom of room
// between cycles; the percent asked for holds for a large one.
func TestTuneGCKeepsHeadroom(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	TuneGC(25)
	runtime.GC()
	runtime.GC() // the tuner runs after a cycle
	if p := debug.SetGCPercent(-1); p < 100*MinHeadroom/(64<<20) {
		t.Errorf("GC percent %d with a small heap, want at least %d", p, 100*MinHeadroom/(64<<20))
	} else {
		debug.SetGCPercent(p)
	}
	big := make([]byte, 2*MinHeadroom) // live: 128 MiB
	for i := range big {
		big[i] = 1
	}
	runtime.GC()
	runtime.GC()
	if p := debug.SetGCPercent(-1); p > 60 {
		t.Errorf("GC percent %d with %d MiB live, want about 50", p, len(big)>>20)
	} else {
		debug.SetGCPercent(p)
	}
	runtime.KeepAlive(big)
}
