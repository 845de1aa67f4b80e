package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startLB runs the balancer until the test ends and waits for its admin
// listener.
func startLB(t *testing.T, backend string) (listen, admin string) {
	t.Helper()
	listen, admin = freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, listen, backend, admin, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	for i := 0; ; i++ {
		if code, _ := get(t, "http://"+admin+"/healthz"); code == 200 {
			return listen, admin
		}
		if i == 200 {
			t.Fatal("admin listener never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A connection through the balancer reaches the backend and is counted;
// the health check says ready while the backend name resolves.
func TestRelayHealthAndMetrics(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	listen, admin := startLB(t, echo.Addr().String())
	if code, body := get(t, "http://"+admin+"/readyz"); code != 200 {
		t.Fatalf("readyz %d %s", code, body)
	}
	c, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("ping\n"))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("relay: %q %v", line, err)
	}
	_, body := get(t, "http://"+admin+"/metrics")
	for _, want := range []string{"mp_lb_connections_accepted_total 1\n", "mp_lb_connections 1\n", "mp_lb_backend_failures_total 0\n", `mp_build_info{`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestNotReadyWithoutBackend(t *testing.T) {
	_, admin := startLB(t, "no-such-replica.invalid:48915")
	if code, body := get(t, "http://"+admin+"/readyz"); code != 503 || !strings.Contains(body, "backend") {
		t.Errorf("readyz with no backend: %d %s", code, body)
	}
}
