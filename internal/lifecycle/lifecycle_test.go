package lifecycle

import (
	"bytes"
	"log/slog"
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
