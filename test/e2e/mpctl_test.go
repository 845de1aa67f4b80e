package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/test/testenv"
)

var (
	toolOnce  sync.Once
	toolDir   string
	toolError error
)

// toolPath builds a command of this module (cmd/mpctl, examples/go) once
// per test process and returns the binary.
func toolPath(t testing.TB, name, pkg string) string {
	t.Helper()
	toolOnce.Do(func() { toolDir, toolError = os.MkdirTemp("", "mp-e2e-tools-") })
	if toolError != nil {
		t.Fatal(toolError)
	}
	path := filepath.Join(toolDir, name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if out, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return path
}

// ctlResult is what one mpctl run printed and its exit status.
type ctlResult struct {
	out, err string
	code     int
}

// ctlEnv is a minimal environment plus the given MP_* variables, so the
// test process's own environment never leaks into mpctl's defaults.
func ctlEnv(vars ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, vars...)
}

// mpctl runs bin/mpctl with stdin and returns its output (stdout is a pipe:
// JSON lines unless -o pretty).
func mpctl(t testing.TB, env []string, stdin string, args ...string) ctlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, toolPath(t, "mpctl", "github.com/messageplane/mp/cmd/mpctl"), args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("mpctl %v: %v", args, err)
	}
	return ctlResult{out.String(), errb.String(), code}
}

// ok runs mpctl and fails the test unless it exits 0.
func ok(t testing.TB, env []string, stdin string, args ...string) ctlResult {
	t.Helper()
	r := mpctl(t, env, stdin, args...)
	if r.code != 0 {
		t.Fatalf("mpctl %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.out, r.err)
	}
	return r
}

// events decodes JSON lines of events.
func events(t testing.TB, out string) []client.Event {
	t.Helper()
	var evs []client.Event
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var ev client.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not an event line: %q: %v", line, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func payloads(evs []client.Event) string {
	var s []string
	for _, ev := range evs {
		s = append(s, string(ev.Payload))
	}
	return strings.Join(s, " ")
}

// TestMpctl runs every verb against the real services.
func TestMpctl(t *testing.T) {
	c := startAll(t)
	hostPort := strings.TrimPrefix(c.RPC, "tcp://")
	// Endpoints from the variables, host:port without tcp:// for RPC.
	env := ctlEnv("MP_RPC_ENDPOINT="+hostPort, "MP_PUB_ENDPOINT="+c.PUB, "MP_INGEST_ENDPOINT="+c.Ingest)
	dead := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))

	t.Run("ping", func(t *testing.T) {
		r := ok(t, env, "", "ping")
		if !strings.Contains(r.out, `"ok":true`) || !strings.Contains(r.out, c.RPC) {
			t.Errorf("ping: %s", r.out)
		}
		if r := ok(t, ctlEnv(), "", "ping", "-o", "pretty", "--rpc", c.RPC, "--msgpack"); !strings.HasPrefix(r.out, "pong from "+c.RPC) {
			t.Errorf("ping -o pretty: %s", r.out)
		}
	})
	t.Run("health", func(t *testing.T) {
		var h client.Health
		if err := json.Unmarshal([]byte(ok(t, env, "", "health").out), &h); err != nil || !h.OK || h.Store != "ok" || h.Epoch == "" {
			t.Errorf("health: %+v %v", h, err)
		}
	})
	t.Run("pub", func(t *testing.T) {
		r := ok(t, env, "", "pub", "--store", "events", "ctl.one", `{"b": 1, "a": [1, 2]}`)
		evs := events(t, r.out)
		if len(evs) != 1 || string(evs[0].Payload) != `{"b":1,"a":[1,2]}` || evs[0].Store != "events" {
			t.Fatalf("pub: %s", r.out)
		}
		ok(t, env, `{"from": "stdin"}`, "pub", "ctl.one", "--store", "events", "--msgpack")
		if r := ok(t, env, "", "pub", "-o", "pretty", "--store", "events", "ctl.one", `"text"`); !strings.HasPrefix(r.out, "published events.ctl.one seq ") {
			t.Errorf("pub -o pretty: %s", r.out)
		}
		if r := mpctl(t, env, "", "pub", "ctl.one", "not json"); r.code != 2 || !strings.Contains(r.err, "not JSON") {
			t.Errorf("pub with a bad payload: %+v", r)
		}
		r = mpctl(t, env, "", "pub", strings.Repeat("t", 200), "{}")
		if r.code != 1 || !strings.Contains(r.err, "TOPIC_TOO_LONG") || !strings.Contains(r.err, `"max":128`) {
			t.Errorf("pub with a long topic: %+v", r)
		}
	})
	t.Run("recent", func(t *testing.T) {
		evs := events(t, ok(t, env, "", "recent", "--store", "events", "ctl.one").out)
		if got := payloads(evs); got != `{"b":1,"a":[1,2]} {"from":"stdin"} {"value":"text"}` {
			t.Errorf("recent: %s", got)
		}
		if evs := events(t, ok(t, env, "", "recent", "--store", "events", "--limit", "1", "ctl.one", "--light").out); len(evs) != 1 || evs[0].Payload != nil {
			t.Errorf("recent --limit 1 --light: %+v", evs)
		}
		var res client.ReadResult
		if err := json.Unmarshal([]byte(ok(t, env, "", "recent", "--result", "--store", "events", "ctl.one").out), &res); err != nil || len(res.Items) != 3 {
			t.Errorf("recent --result: %+v %v", res, err)
		}
	})
	t.Run("since", func(t *testing.T) {
		r := ok(t, env, "", "since", "--store", "events", "1", "ctl.one")
		if got := payloads(events(t, r.out)); got != `{"from":"stdin"} {"value":"text"}` {
			t.Errorf("since 1: %s", got)
		}
		if !strings.Contains(r.err, "head_seq 3, epoch ") {
			t.Errorf("since: stderr %q", r.err)
		}
		if r := mpctl(t, env, "", "since", "x"); r.code != 2 {
			t.Errorf("since x: %+v", r)
		}
	})
	t.Run("query", func(t *testing.T) {
		for _, p := range []string{"1", "6", "9"} {
			ok(t, env, "", "pub", "ctl.query", `{"plugin_id": "ctlq", "priority": `+p+`}`)
		}
		evs := events(t, ok(t, env, "", "query", "--plugin-id", "ctlq", "--priority-min", "5").out)
		if got := payloads(evs); got != `{"plugin_id":"ctlq","priority":9} {"plugin_id":"ctlq","priority":6}` {
			t.Errorf("query: %s", got)
		}
	})
	t.Run("replay", func(t *testing.T) {
		plan := `{"op": "where_eq", "params": {"field": "priority", "value": 6},
			"input": {"op": "topic", "params": {"topic": "ctl.query"}}}`
		file := filepath.Join(t.TempDir(), "plan.json")
		if err := os.WriteFile(file, []byte(plan), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"replay", "--plan", file}, {"replay", "--plan", "-"}} {
			if got := payloads(events(t, ok(t, env, plan, args...).out)); got != `{"plugin_id":"ctlq","priority":6}` {
				t.Errorf("%v: %s", args, got)
			}
		}
		if r := mpctl(t, env, "", "replay"); r.code != 2 || !strings.Contains(r.err, "--plan is required") {
			t.Errorf("replay without --plan: %+v", r)
		}
		if r := mpctl(t, env, `{"op": "nope"}`, "replay", "--plan", "-"); r.code != 1 || !strings.Contains(r.err, "UNSUPPORTED_PLAN") {
			t.Errorf("replay with a bad plan: %+v", r)
		}
	})
	t.Run("topics", func(t *testing.T) {
		var res client.Topics
		if err := json.Unmarshal([]byte(ok(t, env, "", "topics", "events").out), &res); err != nil ||
			len(res.Info) != 1 || res.Info[0].Topic != "ctl.one" || res.Info[0].Count != 3 {
			t.Errorf("topics events: %+v %v", res, err)
		}
		if r := ok(t, env, "", "topics", "-o", "pretty"); !strings.Contains(r.out, "TOPIC") || !strings.Contains(r.out, "ctl.query") {
			t.Errorf("topics -o pretty: %s", r.out)
		}
	})
	t.Run("push", func(t *testing.T) {
		ok(t, env, "{\"n\": 1}\n\n{\"n\": 2}\n{\"n\": 3}\n", "push", "--batch", "2", "ctl.push")
		ok(t, env, `{"store": "runs", "topic": "ctl.push", "payload": {"n": 4}}`+"\n", "push", "--msgpack")
		ok(t, env, "{\"k\": \"a\"}\n{\"k\": \"b\"}\n", "push", "--snapshot", "--store", "memory", "ctl.state")
		r := ok(t, env, "{\"k\": \"c\"}\n", "push", "-o", "pretty", "--snapshot", "--mode", "append", "--store", "memory", "ctl.state")
		if !strings.Contains(r.out, "pushed 1 snapshot items (append) to "+c.Ingest) {
			t.Errorf("push -o pretty: %s", r.out)
		}
		for _, w := range []struct{ args, want string }{
			{"recent ctl.push", `{"n":1} {"n":2} {"n":3}`},
			{"recent --store runs ctl.push", `{"n":4}`},
			{"recent --store memory ctl.state", `{"k":"a"} {"k":"b"} {"k":"c"}`},
		} {
			var got string
			eventually(t, 5*time.Second, 20*time.Millisecond, w.args+": "+w.want, func() bool {
				got = payloads(events(t, ok(t, env, "", strings.Fields(w.args)...).out))
				return got == w.want
			})
		}
		if r := mpctl(t, env, "{\"n\": 1}\nnope\n", "push", "ctl.push"); r.code != 1 || !strings.Contains(r.err, "line 2 is not JSON") {
			t.Errorf("push with a bad line: %+v", r)
		}
		if r := mpctl(t, env, "{\"n\": 1}\n", "push"); r.code != 1 || !strings.Contains(r.err, `line 1: want {"topic"`) {
			t.Errorf("push an item without topic: %+v", r)
		}
	})
	t.Run("sub", func(t *testing.T) {
		head := events(t, ok(t, env, "", "pub", "--store", "lifecycle", "ctl.sub.a", `{"n": 1}`).out)[0].Seq
		ok(t, env, "", "pub", "--store", "lifecycle", "ctl.other", `{"n": 0}`)
		ok(t, env, "", "pub", "--store", "lifecycle", "ctl.sub.b", `{"n": 2}`)
		since := fmt.Sprint(head - 1)
		for _, verb := range []string{"sub", "tail"} {
			r := ok(t, env, "", verb, "--since", since, "-n", "2", "lifecycle.ctl.sub.")
			if got := payloads(events(t, r.out)); got != `{"n":1} {"n":2}` {
				t.Errorf("%s --since: %s", verb, got)
			}
		}
	})
	t.Run("check", func(t *testing.T) {
		if r := mpctl(t, env, "", "check", "http://"+c.RPCHTTP+"/readyz"); r.code != 0 || r.out != "" || r.err != "" {
			t.Errorf("check ready: %+v", r)
		}
		if r := mpctl(t, env, "", "check", "http://"+c.RPCHTTP+"/nope"); r.code != 1 || !strings.Contains(r.err, "404") {
			t.Errorf("check 404: %+v", r)
		}
		if r := mpctl(t, env, "", "check", "http://"+dead+"/readyz"); r.code != 1 {
			t.Errorf("check nothing: %+v", r)
		}
		if r := mpctl(t, env, "", "check"); r.code != 2 {
			t.Errorf("check without URL: %+v", r)
		}
	})
	t.Run("version", func(t *testing.T) {
		for _, arg := range []string{"version", "-version"} {
			if r := ok(t, env, "", arg); !strings.HasPrefix(r.out, "mpctl dev (go") {
				t.Errorf("%s: %q", arg, r.out)
			}
		}
	})
	t.Run("call", func(t *testing.T) {
		if r := ok(t, ctlEnv(), "", "call", c.RPC, "ping"); !strings.HasPrefix(r.out, `{"error":null,"ok":true,"result":{"ok":true`) {
			t.Errorf("call ENDPOINT ping: %s", r.out)
		}
		r := mpctl(t, env, "", "call", "bus.get_recent", `{"topic": "ctl.one", "limit": 0}`)
		if r.code != 1 || !strings.Contains(r.out, `"code":"BAD_ARGS"`) || !strings.Contains(r.out, `"field":"limit"`) {
			t.Errorf("call with bad args: %+v", r)
		}
	})
	t.Run("errors name the endpoint and the fix", func(t *testing.T) {
		r := mpctl(t, env, "", "ping", "--rpc", dead, "--timeout", "300ms")
		want := "no reply from tcp://" + dead + " in 300ms — is mp-rpc running?"
		if r.code != 1 || !strings.Contains(r.err, want) {
			t.Errorf("ping to nothing: %+v, want %q", r, want)
		}
		r = mpctl(t, env, "{\"n\": 1}\n", "push", "--ingest", dead, "--timeout", "300ms", "ctl.push")
		if r.code != 1 || !strings.Contains(r.err, "tcp://"+dead) || !strings.Contains(r.err, "is mp-ingest running?") {
			t.Errorf("push to nothing: %+v", r)
		}
	})
	t.Run("help", func(t *testing.T) {
		r := ok(t, env, "", "help")
		for _, v := range []string{"pub", "sub", "tail", "recent", "since", "query", "replay", "topics", "push", "ping", "health", "check", "version"} {
			if !strings.Contains(r.out, "\n  "+v+" ") {
				t.Errorf("help lacks %s:\n%s", v, r.out)
			}
		}
		if r := ok(t, env, "", "pub", "-h"); !strings.HasPrefix(r.out, "Usage: mpctl pub") || !strings.Contains(r.out, "--store") {
			t.Errorf("pub -h: %s", r.out)
		}
		if r := mpctl(t, env, "", "nope"); r.code != 2 {
			t.Errorf("unknown verb: %+v", r)
		}
	})
}

// ctlProc is an mpctl process running in the background; its stdout
// lines arrive on lines.
type ctlProc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *bytes.Buffer
	mu     sync.Mutex
	done   chan struct{}
}

func startMpctl(t testing.TB, env []string, args ...string) *ctlProc {
	t.Helper()
	p := &ctlProc{lines: make(chan string, 1000), stderr: &bytes.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(toolPath(t, "mpctl", "github.com/messageplane/mp/cmd/mpctl"), args...)
	p.cmd.Env = env
	p.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stderr.Write(b)
	})
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		_ = p.cmd.Wait()
	})
	return p
}

func (p *ctlProc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// next returns the next n stdout lines as events.
func (p *ctlProc) next(t testing.TB, n int) []client.Event {
	t.Helper()
	var lines []string
	timeout := time.After(10 * time.Second)
	for len(lines) < n {
		select {
		case l := <-p.lines:
			lines = append(lines, l)
		case <-timeout:
			t.Fatalf("got %d of %d lines: %q\nstderr: %s", len(lines), n, lines, p.stderrText())
		}
	}
	return events(t, strings.Join(lines, "\n"))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// TestMpctlTailAcrossRestarts: tail fills what a pub restart missed
// without a gap, and reports a store restart (a new epoch).
func TestMpctlTailAcrossRestarts(t *testing.T) {
	testenv.SplitOnly(t)
	testenv.MemoryOnly(t)
	c := startAll(t)
	rpc, err := client.Dial(c.RPC, client.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	n := 0
	publish := func(k int) {
		for ; k > 0; k-- {
			n++
			eventually(t, 10*time.Second, 50*time.Millisecond, "publish", func() bool {
				_, err := rpc.Publish(context.Background(), "events", "ctl.tail", map[string]any{"n": n})
				return err == nil
			})
		}
	}
	tail := startMpctl(t, ctlEnv(), "tail", "--rpc", c.RPC, "--pub", c.PUB, "--since", "0", "--idle-check", "200ms", "events.ctl.")

	publish(3)
	got := tail.next(t, 3)
	c.Pub.Kill()
	publish(3) // stored while no pub edge runs: only get_since can deliver them
	c.Pub.Restart()
	testenv.WaitReady(t, c.PubHTTP, 10*time.Second)
	publish(2)
	got = append(got, tail.next(t, 5)...)
	for i, ev := range got {
		if ev.Seq != int64(i+1) || string(ev.Payload) != fmt.Sprintf(`{"n":%d}`, i+1) {
			t.Fatalf("event %d across the pub restart: seq %d %s (want seq %d)", i, ev.Seq, ev.Payload, i+1)
		}
	}

	c.Store.Restart() // in memory: a new epoch, seqs from 1
	testenv.WaitReady(t, c.StoreHTTP, 10*time.Second)
	publish(1)
	if ev := tail.next(t, 1)[0]; ev.Seq != 1 || string(ev.Payload) != `{"n":9}` {
		t.Errorf("after the store restart: seq %d %s", ev.Seq, ev.Payload)
	}
	if !strings.Contains(tail.stderrText(), "store events has a new epoch") {
		t.Errorf("no epoch change reported; stderr: %s", tail.stderrText())
	}
	tail.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-tail.done:
	case <-time.After(5 * time.Second):
		t.Error("tail did not stop on SIGINT")
	}
	if err := tail.cmd.Wait(); err != nil {
		t.Errorf("tail after SIGINT: %v", err)
	}
}

// TestMpctlSubReportsEvicted: seqs the store no longer holds (a topic
// keeps its newest MP_TOPIC_MAXLEN events) are reported, not waited for.
func TestMpctlSubReportsEvicted(t *testing.T) {
	c := testenv.NewCluster(t, map[string]string{"MP_TOPIC_MAXLEN": "2"})
	c.StartStore(nil)
	c.StartRPC(nil)
	c.StartPub(nil)
	env := ctlEnv("MP_RPC_ENDPOINT="+c.RPC, "MP_PUB_ENDPOINT="+c.PUB)
	for i := 1; i <= 5; i++ {
		ok(t, env, "", "pub", "--store", "runs", "ctl.evict", fmt.Sprintf(`{"n": %d}`, i))
	}
	r := ok(t, env, "", "sub", "--since", "0", "-n", "2", "runs.")
	if got := payloads(events(t, r.out)); got != `{"n":4} {"n":5}` {
		t.Errorf("sub --since 0: %s", got)
	}
	if !strings.Contains(r.err, "runs seq 1..3 no longer stored") {
		t.Errorf("no gap reported: %q", r.err)
	}
}
