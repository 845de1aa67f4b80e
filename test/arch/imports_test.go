// Package arch guards the layout's rules of who may import whom, as etcd
// guards its api module: the store never speaks ZeroMQ, an edge never
// reaches into another edge or into the store, and only the all-in-one
// binary assembles them all.
package arch

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const mod = "github.com/messageplane/mp/"

// deps lists every package pattern's transitive imports (workspace mode).
func deps(t *testing.T, pattern string) map[string]bool {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pattern)
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	m := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		m[p] = true
	}
	return m
}

func TestImportRules(t *testing.T) {
	edges := []string{"rpc", "pub", "ingest"}
	rules := []struct {
		pkg       string
		forbidden []string // import path prefixes
		why       string
	}{
		{mod + "services/store/...", []string{"github.com/pebbe/zmq4", mod + "internal/zmqx", mod + "services/rpc", mod + "services/pub", mod + "services/ingest"},
			"the store serves gRPC only; the edges own every ZMQ socket"},
		{mod + "proto/...", []string{mod + "internal", mod + "services"}, "proto is the thin contract module"},
		{mod + "client/...", []string{mod + "internal", mod + "services", mod + "proto"}, "a plugin importing the client pulls in nothing of the server"},
	}
	for _, e := range edges {
		var others []string
		for _, o := range edges {
			if o != e {
				others = append(others, mod+"services/"+o)
			}
		}
		rules = append(rules, struct {
			pkg       string
			forbidden []string
			why       string
		}{mod + "services/" + e + "/...", append(others, mod+"services/store"), "an edge reaches the store through its gRPC contract, and no other edge"})
	}
	for _, r := range rules {
		for p := range deps(t, r.pkg) {
			for _, f := range r.forbidden {
				if p == f || strings.HasPrefix(p, f+"/") {
					t.Errorf("%s imports %s: %s", r.pkg, p, r.why)
				}
			}
		}
	}
}
