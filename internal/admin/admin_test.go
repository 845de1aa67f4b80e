package admin

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
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
