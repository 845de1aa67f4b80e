package admin

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/messageplane/mp/internal/buildinfo"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	s := New("test", slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	bound := s.AddFlag("socket")
	stop, err := s.Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	base := "http://" + s.Addr()
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "socket") {
		t.Errorf("readyz before bind: %d %s", code, body)
	}
	bound()
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("readyz after bind %d", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.DrainOn(ctx)
	cancel()
	for i := 0; i < 100 && s.Ready(context.Background()) == nil; i++ {
		_, _ = get(t, base+"/healthz")
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "draining") {
		t.Errorf("readyz while draining: %d %s", code, body)
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, `mp_build_info{`) {
		t.Errorf("metrics %d", code)
	}
	if code, _ := get(t, base+"/debug/pprof/"); code != 404 {
		t.Errorf("pprof served without MP_PPROF: %d", code)
	}
}

// mp_build_info carries the version linked into the binary.
func TestBuildInfoVersion(t *testing.T) {
	old := buildinfo.Version
	t.Cleanup(func() { buildinfo.Version = old })
	buildinfo.Version = "v1.2.3-4-gabcdef0"
	s := New("store", slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	stop, err := s.Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if _, body := get(t, "http://"+s.Addr()+"/metrics"); !strings.Contains(body, `service="store",version="v1.2.3-4-gabcdef0"`) {
		t.Errorf("mp_build_info lacks the linked version:\n%s", body)
	}
}
