package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/test/testenv"
)

// TestGracefulShutdown: every service exits 0 on SIGTERM, edges first.
func TestGracefulShutdown(t *testing.T) {
	cl := startAll(t)
	c := dial(t, cl.RPC, client.JSON)
	mustOK(t, c, "bus.publish", map[string]any{"topic": "a", "payload": 1})
	for _, p := range []*testenv.Proc{cl.RPCProc, cl.IngestP, cl.Pub, cl.Store} {
		start := time.Now()
		if err := p.Stop(15 * time.Second); err != nil {
			t.Errorf("%s: %v\n%s", p.Name, err, p.Logs())
		}
		t.Logf("%s stopped in %v", p.Name, time.Since(start))
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %v to stop", p.Name, d)
		}
		if !strings.Contains(p.Logs(), "stopped") {
			t.Errorf("%s did not log its stop", p.Name)
		}
	}
}

// TestBadConfigExits2: invalid configuration exits 2 with one line.
func TestBadConfigExits2(t *testing.T) {
	dir := testenv.Binaries(t)
	for _, s := range testenv.Services {
		cmd := exec.Command(dir + "/mp-" + s)
		cmd.Env = []string{"MP_LOG_LEVEL=loud"}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("mp-%s: exit %v, want 2: %s", s, err, out)
		}
		if lines := strings.Count(strings.TrimSpace(string(out)), "\n"); lines != 0 {
			t.Errorf("mp-%s printed %d lines: %s", s, lines+1, out)
		}
		help, err := exec.Command(dir+"/mp-"+s, "-h").CombinedOutput()
		if err != nil || !strings.Contains(string(help), "MP_LOG_LEVEL") {
			t.Errorf("mp-%s -h: %v %s", s, err, help)
		}
	}
}
