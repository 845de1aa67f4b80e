package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExamplePlugins runs examples/go and examples/python/plugin.py as a
// plugin author would against `make run`, here against services on free
// ports given through the MP_*_ENDPOINT variables.
func TestExamplePlugins(t *testing.T) {
	c := startAll(t)
	env := ctlEnv("MP_RPC_ENDPOINT="+c.RPC, "MP_PUB_ENDPOINT="+c.PUB, "MP_INGEST_ENDPOINT="+c.Ingest)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// Debian's python3 with python3-zmq and python3-msgpack (scripts/deps.sh
	// --test), whatever python3 comes first on PATH.
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import zmq, msgpack").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import zmq and msgpack (run scripts/deps.sh --test): %v\n%s", python, err, out)
	}
	for _, ex := range []struct {
		name string
		argv []string
	}{
		{"go", []string{toolPath(t, "example-go", "github.com/messageplane/mp/examples/go")}},
		{"python", []string{python, filepath.Join(root, "examples", "python", "plugin.py")}},
	} {
		t.Run(ex.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, ex.argv[0], ex.argv[1:]...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %v\n%s", ex.argv, err, out)
			}
			text := string(out)
			plugin := "example-" + map[string]string{"go": "go", "python": "py"}[ex.name]
			for _, want := range []string{
				": started\n", ": step 1\n", ": step 2\n", ": step 3\n",
				"snapshot " + plugin + ".state: 2 items\n", "done\n",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("output lacks %q:\n%s", want, text)
				}
			}
		})
	}
}
