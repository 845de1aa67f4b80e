// Package testenv builds the real service binaries and starts them on free
// loopback ports for end-to-end tests. Nothing is mocked: tests talk to the
// processes through real ZMQ sockets and the processes talk gRPC.
package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// repoRoot finds the directory holding go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.work not found above the test directory")
		}
		dir = parent
	}
}

// Services are the four services; Binaries builds mp-<service> of each,
// and the all-in-one mp.
var Services = []string{"store", "rpc", "ingest", "pub"}

// AllInOne reports whether clusters run as one all-in-one mp process
// (MP_E2E_MODE=mp) rather than the four services (the default), so the
// e2e suite runs against both.
func AllInOne() bool { return os.Getenv("MP_E2E_MODE") == "mp" }

// JetStream reports whether clusters keep their events in the store's
// JetStream backend (MP_E2E_STORE=jetstream: an embedded NATS server in a
// temporary directory per cluster) rather than in memory (the default).
func JetStream() bool { return os.Getenv("MP_E2E_STORE") == "jetstream" }

// MemoryOnly skips a test whose claim holds for the in-memory store alone
// (a restart starts a new epoch).
func MemoryOnly(t testing.TB) {
	t.Helper()
	if JetStream() {
		t.Skip("a restart of the in-memory store starts a new epoch; the JetStream store keeps its events")
	}
}

// SplitOnly skips a test that stops, pauses or restarts one service on its
// own, which the all-in-one process cannot do.
func SplitOnly(t testing.TB) {
	t.Helper()
	if AllInOne() {
		t.Skip("stops, pauses or restarts one service: needs the four services as separate processes")
	}
}

// Binaries builds every service once per test process and returns the
// directory holding mp-<service> and mp.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			buildErr = err
			return
		}
		binDir, err = os.MkdirTemp("", "mp-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		// nats-server comes from the module the store's JetStream backend
		// embeds, for tests of a NATS cluster outside the store.
		targets := map[string]string{"mp": "./cmd/mp", "nats-server": "github.com/nats-io/nats-server/v2"}
		for _, s := range Services {
			targets["mp-"+s] = "./services/" + s
		}
		for bin, pkg := range targets {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, bin), pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", bin, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Proc is one running service.
type Proc struct {
	Name string
	Env  map[string]string
	Args []string // command-line arguments (nats-server's)
	t    testing.TB
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs mp-<name> with env on top of a minimal environment. The process
// is killed when the test ends; its output is logged if the test failed.
func Start(t testing.TB, name string, env map[string]string) *Proc {
	t.Helper()
	p := &Proc{Name: name, Env: env, t: t}
	p.start()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- %s output ---\n%s", p.Name, p.Logs())
		}
	})
	return p
}

func (p *Proc) start() {
	p.t.Helper()
	bin := filepath.Join(Binaries(p.t), "mp-"+p.Name)
	if p.Name == "mp" || p.Name == "nats-server" {
		bin = filepath.Join(Binaries(p.t), p.Name)
	}
	p.cmd = exec.Command(bin, p.Args...)
	// A test process that is killed (a timeout, ^C) takes its services
	// with it instead of leaving them holding ports and open files.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "MP_LOG_LEVEL=debug"}
	for k, v := range p.Env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.logs = &syncBuffer{}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.Name, err)
	}
	p.done = make(chan struct{})
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
}

// Logs returns what the process printed.
func (p *Proc) Logs() string { return p.logs.String() }

// Restart starts the process again with the same environment.
func (p *Proc) Restart() {
	p.Kill()
	p.start()
}

// Signal sends sig.
func (p *Proc) Signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// Kill stops the process at once (SIGKILL) and waits for it.
func (p *Proc) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout; it returns the exit error.
func (p *Proc) Stop(timeout time.Duration) error {
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not stop within %v", p.Name, timeout)
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitReady polls http://addr/readyz until it answers 200.
func WaitReady(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	waitHTTP(t, addr, "/readyz", timeout)
}

// waitHTTP polls http://addr+path until it answers 200.
func waitHTTP(t testing.TB, addr, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s%s not ready within %v", addr, path, timeout)
}

// Metric reads one sample from http://addr/metrics: the value of the line
// starting with series (name plus labels as printed).
func Metric(t testing.TB, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	for _, line := range strings.Split(buf.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return 0
}

// Cluster is a set of services wired to each other on free ports.
type Cluster struct {
	t                            testing.TB
	StoreAddr                    string
	RPC, PUB, Ingest             string // ZMQ endpoints
	StoreHTTP, RPCHTTP           string
	PubHTTP, IngestHTTP          string
	Store, RPCProc, Pub, IngestP *Proc
	Env                          map[string]string // extra env for every service

	// In all-in-one mode one mp process plays all four services: every
	// HTTP address is its one admin listener and every Proc is it.
	mp    *Proc
	mpEnv map[string]string
}

// NewCluster reserves ports for every service; Start* start them.
func NewCluster(t testing.TB, env map[string]string) *Cluster {
	ep := func() string { return fmt.Sprintf("tcp://127.0.0.1:%d", FreePort(t)) }
	hp := func() string { return fmt.Sprintf("127.0.0.1:%d", FreePort(t)) }
	c := &Cluster{t: t, StoreAddr: hp(), RPC: ep(), PUB: ep(), Ingest: ep(),
		StoreHTTP: hp(), RPCHTTP: hp(), PubHTTP: hp(), IngestHTTP: hp(), Env: env}
	if AllInOne() {
		c.RPCHTTP, c.PubHTTP, c.IngestHTTP = c.StoreHTTP, c.StoreHTTP, c.StoreHTTP
	}
	if JetStream() {
		c.Env = merge(map[string]string{"MP_STORE_BACKEND": "jetstream", "MP_STORE_DATA_DIR": t.TempDir()}, env)
	}
	return c
}

func (c *Cluster) env(extra map[string]string) map[string]string {
	m := map[string]string{
		"MP_STORE_LISTEN": c.StoreAddr, "MP_STORE_ADDR": c.StoreAddr,
		"MP_RPC_ENDPOINT": c.RPC, "MP_PUB_ENDPOINT": c.PUB, "MP_INGEST_ENDPOINT": c.Ingest,
	}
	for k, v := range c.Env {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// StartStore starts mp-store and waits until it is ready.
func (c *Cluster) StartStore(extra map[string]string) *Proc {
	c.Store = c.start("store", c.StoreHTTP, extra)
	return c.Store
}

// StartRPC starts mp-rpc and waits until it is ready.
func (c *Cluster) StartRPC(extra map[string]string) *Proc {
	c.RPCProc = c.start("rpc", c.RPCHTTP, extra)
	return c.RPCProc
}

// StartIngest starts mp-ingest and waits until it is ready.
func (c *Cluster) StartIngest(extra map[string]string) *Proc {
	c.IngestP = c.start("ingest", c.IngestHTTP, extra)
	return c.IngestP
}

// StartPub starts mp-pub and waits until it is ready.
func (c *Cluster) StartPub(extra map[string]string) *Proc {
	c.Pub = c.start("pub", c.PubHTTP, extra)
	return c.Pub
}

// StartReplica starts one more mp-<name> (an edge) on fresh ports against
// the cluster's store and returns its ZMQ endpoint and admin address.
func (c *Cluster) StartReplica(name string) (endpoint, httpAddr string) {
	endpoint = fmt.Sprintf("tcp://127.0.0.1:%d", FreePort(c.t))
	httpAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(c.t))
	env := map[string]string{"MP_" + strings.ToUpper(name) + "_ENDPOINT": endpoint}
	c.start(name, httpAddr, env)
	return endpoint, httpAddr
}

func (c *Cluster) start(name, httpAddr string, extra map[string]string) *Proc {
	if AllInOne() && httpAddr == c.StoreHTTP {
		return c.startMP(extra)
	}
	p := Start(c.t, name, c.env(merge(extra, map[string]string{"MP_HTTP_ADDR": httpAddr})))
	WaitReady(c.t, httpAddr, 10*time.Second)
	return p
}

// startMP (re)starts the all-in-one process with every service's extra
// variables so far: a test starts the services one by one, each with its
// own, before it stores anything.
func (c *Cluster) startMP(extra map[string]string) *Proc {
	c.mpEnv = merge(c.mpEnv, extra)
	env := c.env(merge(c.mpEnv, map[string]string{"MP_HTTP_ADDR": c.StoreHTTP}))
	if c.mp == nil {
		c.mp = Start(c.t, "mp", env)
	} else {
		c.mp.Env = env
		c.mp.Restart()
	}
	c.Store, c.RPCProc, c.Pub, c.IngestP = c.mp, c.mp, c.mp, c.mp
	WaitReady(c.t, c.StoreHTTP, 10*time.Second)
	return c.mp
}

func merge(a, b map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}
