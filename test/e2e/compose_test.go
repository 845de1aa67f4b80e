package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/test/testenv"
)

// compose runs docker compose (v2 plugin if present, else docker-compose)
// for the live test's project.
type compose struct {
	t    *testing.T
	argv []string
	env  []string
	dir  string
}

func newCompose(t *testing.T, project string, env map[string]string) *compose {
	c := &compose{t: t}
	if exec.Command("docker", "compose", "version").Run() == nil {
		c.argv = []string{"docker", "compose"}
	} else if _, err := exec.LookPath("docker-compose"); err == nil {
		c.argv = []string{"docker-compose"}
	} else {
		t.Skip("no docker compose")
	}
	c.argv = append(c.argv, "-p", project)
	dir, _ := os.Getwd()
	for ; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "docker-compose.yml")); err == nil {
			break
		}
		if dir == "/" {
			t.Fatal("docker-compose.yml not found")
		}
	}
	c.dir = dir
	c.env = os.Environ()
	for k, v := range env {
		c.env = append(c.env, k+"="+v)
	}
	return c
}

func (c *compose) run(args ...string) string {
	c.t.Helper()
	argv := append(append([]string{}, c.argv...), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = c.dir, c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// TestComposeLive builds the images, starts the compose project and checks
// the published ports end to end. It runs when MP_COMPOSE_LIVE=1 (.ci/run
// sets it when a Docker engine answers).
func TestComposeLive(t *testing.T) {
	if os.Getenv("MP_COMPOSE_LIVE") != "1" {
		t.Skip("set MP_COMPOSE_LIVE=1 to run the live compose test")
	}
	env := map[string]string{}
	for _, k := range []string{"MP_RPC_PORT", "MP_PUB_PORT", "MP_INGEST_PORT"} {
		env[k] = fmt.Sprint(testenv.FreePort(t))
	}
	// The images' tag and the version their binaries report.
	env["MP_VERSION"] = "live-test"
	c := newCompose(t, "mplive", env)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.run("logs", "--tail", "50"))
		}
		c.run("down", "-v", "--remove-orphans")
	})
	start := time.Now()
	c.run("up", "-d", "--build")
	rpcEP := "tcp://127.0.0.1:" + env["MP_RPC_PORT"]
	pubEP := "tcp://127.0.0.1:" + env["MP_PUB_PORT"]
	ingestEP := "tcp://127.0.0.1:" + env["MP_INGEST_PORT"]

	cl := dial(t, rpcEP, client.JSON)
	waitOK := func(what string) {
		eventually(t, 90*time.Second, 500*time.Millisecond, what+": RPC not healthy", func() bool {
			r, err := cl.Call(t.Context(), "health", nil)
			return err == nil && r.OK && strings.Contains(string(r.Result), `"store":"ok"`)
		})
	}
	waitOK("up")
	t.Logf("built and healthy in %v", time.Since(start).Round(time.Second))

	// The unauthenticated bus is published on the host's loopback only.
	for svc, port := range map[string]string{"rpc": "48913", "pub": "48914", "ingest-lb": "48915"} {
		if got := strings.TrimSpace(c.run("port", svc, port)); !strings.HasPrefix(got, "127.0.0.1:") {
			t.Errorf("%s's port %s is published on %q, want 127.0.0.1", svc, port, got)
		}
	}
	// The version passed at build time is what the binaries report.
	if got := c.run("exec", "-T", "store", "mp-store", "-version"); !strings.HasPrefix(got, "mp-store "+env["MP_VERSION"]+" ") {
		t.Errorf("mp-store -version in the image: %q, want %s", got, env["MP_VERSION"])
	}
	// The ingest balancer has a health check, and passes it.
	eventually(t, 30*time.Second, time.Second, "ingest-lb not healthy", func() bool {
		return strings.Contains(c.run("ps", "ingest-lb"), "(healthy)")
	})

	// publish via RPC, receive on a SUB
	sub := subscribe(t, pubEP, "messages.", "export.probe")
	probe(t, cl, sub)
	mustOK(t, cl, "bus.publish", map[string]any{"topic": "live", "payload": map[string]any{"hello": "compose"}})
	if m := sub.next(t, 10*time.Second); m.topic != "messages.live" {
		t.Fatalf("SUB got %s", m.topic)
	}
	// push via INGEST and read back
	p := newPusher(t, ingestEP)
	p.send(t, []byte(`{"kind":"delta","items":[{"store":"events","topic":"live","payload":{"n":1}}]}`))
	waitStored(t, cl, "events", 1, 30*time.Second)

	// rpc killed: PUB and INGEST keep working
	c.run("kill", "rpc")
	p.send(t, []byte(`{"kind":"delta","items":[{"topic":"while-rpc-down","payload":{"n":2}}]}`))
	if m := sub.next(t, 10*time.Second); m.topic != "messages.while-rpc-down" {
		t.Fatalf("SUB got %s while rpc was down", m.topic)
	}
	c.run("up", "-d", "rpc")
	waitOK("rpc back")
	waitStored(t, cl, "messages", 2, 30*time.Second) // live + while-rpc-down

	// three ingest replicas behind the documented address
	c.run("up", "-d", "--scale", "ingest=3")
	eventually(t, 60*time.Second, time.Second, "3 healthy ingest replicas not reached", func() bool {
		return strings.Count(c.run("ps", "ingest"), "healthy") >= 3
	})
	const conns, per = 6, 500
	for i := 0; i < conns; i++ {
		pi := newPusher(t, ingestEP)
		for j := 0; j < per; j++ {
			pi.send(t, []byte(fmt.Sprintf(`{"kind":"delta","items":[{"store":"runs","topic":"scaled","payload":{"c":%d,"j":%d}}]}`, i, j)))
		}
	}
	waitStored(t, cl, "runs", conns*per, 60*time.Second)
	expect(t, "scaled items stored", len(readAll(t, cl, "runs", "scaled")), conns*per)
	t.Logf("live compose test passed in %v", time.Since(start).Round(time.Second))
}
