package client_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain runs the examples and tests against the real services: the
// binaries in $MP_BIN_DIR (the Makefile passes bin/ after make build), else
// built from the repository this module sits in. They listen on free
// loopback ports, published to the examples through the MP_*_ENDPOINT
// variables that RPCEndpoint, PubEndpoint and IngestEndpoint read.
func TestMain(m *testing.M) {
	stop, err := startServices()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start services:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func startServices() (stop func(), err error) {
	bin := os.Getenv("MP_BIN_DIR")
	if bin == "" {
		if bin, err = os.MkdirTemp("", "mp-client-bin-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(bin) // the processes keep their open binaries
	}
	port := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	store := port()
	env := append(os.Environ(), "MP_STORE_LISTEN="+store, "MP_STORE_ADDR="+store,
		"MP_RPC_ENDPOINT=tcp://"+port(), "MP_PUB_ENDPOINT=tcp://"+port(), "MP_INGEST_ENDPOINT=tcp://"+port())
	var procs []*exec.Cmd
	stop = func() {
		for i := len(procs) - 1; i >= 0; i-- {
			_ = procs[i].Process.Kill()
			_ = procs[i].Wait()
		}
	}
	for _, name := range []string{"store", "rpc", "pub", "ingest"} {
		path := filepath.Join(bin, "mp-"+name)
		if os.Getenv("MP_BIN_DIR") == "" {
			build := exec.Command("go", "build", "-o", path, "./services/"+name)
			build.Dir = ".." // the repository root
			if out, err := build.CombinedOutput(); err != nil {
				stop()
				return nil, fmt.Errorf("build mp-%s: %v\n%s", name, err, out)
			}
		}
		admin := port()
		cmd := exec.Command(path)
		cmd.Env = append(env, "MP_HTTP_ADDR="+admin, "MP_LOG_LEVEL=warn")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			stop()
			return nil, err
		}
		procs = append(procs, cmd)
		if err := ready(admin); err != nil {
			stop()
			return nil, fmt.Errorf("mp-%s: %w", name, err)
		}
	}
	for _, kv := range env[len(env)-5:] {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	return stop, nil
}

func ready(admin string) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s/readyz not ready in 10s", admin)
}
