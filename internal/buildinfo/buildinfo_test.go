package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestStringCarriesTheLinkedVersion(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.8.7-3-gabcdef0-dirty"
	got := String("mp-store")
	if want := "mp-store v9.8.7-3-gabcdef0-dirty (" + runtime.Version() + ")"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if v, gv := Get(); v != Version || !strings.HasPrefix(gv, "go") {
		t.Errorf("Get = %q, %q", v, gv)
	}
}
