package store

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/messageplane/mp/services/store/internal/jetstream"
)

// backends are the logs of record the store's tests run against: every test
// of this package runs once per backend, the first in this process, each
// other one in a child test process that MP_STORE_TEST_BACKEND selects.
var backends = []string{"memory", "jetstream"}

var backend = backends[0]

func TestMain(m *testing.M) {
	if b := os.Getenv("MP_STORE_TEST_BACKEND"); b != "" {
		backend = b
		os.Exit(m.Run())
	}
	code := m.Run()
	for _, b := range backends[1:] {
		fmt.Printf("=== the store's tests again, with the %s backend\n", b)
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), "MP_STORE_TEST_BACKEND="+b)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil && code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// withBackend gives cfg the log of record of the backend under test and
// returns the service, loaded.
func withBackend(t testing.TB, cfg Config) *Service {
	t.Helper()
	if backend == "jetstream" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		l, err := jetstream.Open(ctx, jetstream.Config{DataDir: t.TempDir(), Stores: cfg.Stores, TopicMaxLen: cfg.TopicMaxLen, MaxPayload: 2 << 20})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Log = l
		t.Cleanup(l.Close)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	deadline := time.Now().Add(30 * time.Second)
	for s.Loaded() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the store did not load its log")
		}
		time.Sleep(time.Millisecond)
	}
	return s
}
