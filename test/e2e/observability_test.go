package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/messageplane/mp/client"
	"github.com/messageplane/mp/test/testenv"
)

// repoFile reads a file by its path from the repository's root.
func repoFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scrape is what the four running services export: every family (from the
// TYPE lines) and every sample name (histograms as _bucket, _sum, _count).
type scrape struct {
	families map[string]string // name -> service that exported it first
	samples  map[string]bool
}

// scrapeCluster starts the four services, makes them do a little of
// everything (so labelled series exist), and reads their /metrics.
func scrapeCluster(t *testing.T) scrape {
	t.Helper()
	c := testenv.NewCluster(t, nil)
	c.StartStore(nil)
	c.StartRPC(nil)
	c.StartPub(nil)
	c.StartIngest(nil)
	cl := dial(t, c.RPC, client.JSON)
	sub := subscribe(t, c.PUB, "messages.", "export.probe")
	probe(t, cl, sub)
	mustOK(t, cl, "bus.publish", map[string]any{"topic": "obs", "payload": map[string]any{"n": 1}})
	newPusher(t, c.Ingest).send(t, []byte(`{"kind":"delta","items":[{"store":"events","topic":"obs","payload":{"n":2}}]}`))
	waitStored(t, cl, "events", 1, 10*time.Second)
	// The pub edge has seen the events and the subscriber (its gauges are
	// read at scrape time, the monitor's events come asynchronously).
	eventually(t, 5*time.Second, 20*time.Millisecond, "pub edge never counted the subscriber", func() bool {
		return testenv.Metric(t, c.PubHTTP, "mp_pub_connections") >= 1
	})

	s := scrape{families: map[string]string{}, samples: map[string]bool{}}
	for service, addr := range map[string]string{"store": c.StoreHTTP, "rpc": c.RPCHTTP, "pub": c.PubHTTP, "ingest": c.IngestHTTP} {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(body), "\n") {
			if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
				if _, seen := s.families[strings.Fields(rest)[0]]; !seen {
					s.families[strings.Fields(rest)[0]] = service
				}
				continue
			}
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			s.samples[strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
		}
	}
	return s
}

// TestObservability runs the services once and checks what operators read
// from them: the Grafana dashboard queries only metrics some service
// exports, and docs/metrics.md describes every metric they export.
func TestObservability(t *testing.T) {
	s := scrapeCluster(t)

	t.Run("dashboard", func(t *testing.T) {
		if testenv.AllInOne() {
			// Its edges call the store in process: no grpc_client_* and no
			// store link to watch.
			t.Skip("the dashboard charts the four services as deployed (Helm, compose), not the all-in-one mp")
		}
		exprs := dashboardExprs(t, repoFile(t, "deploy/grafana/message-plane.json"))
		if len(exprs) < 20 {
			t.Fatalf("dashboard has %d queries", len(exprs))
		}
		for _, expr := range exprs {
			names, err := promqlMetrics(expr)
			if err != nil {
				t.Errorf("%v in %s", err, expr)
			}
			for _, name := range names {
				if !s.samples[name] {
					t.Errorf("the dashboard queries %s, which no service exports (%s)", name, expr)
				}
			}
		}
	})

	t.Run("docs", func(t *testing.T) {
		docs := string(repoFile(t, "docs/metrics.md"))
		for name, service := range s.families {
			if !strings.Contains(docs, "| `"+name+"` |") {
				t.Errorf("%s exports %s, which docs/metrics.md does not describe", service, name)
			}
		}
		wanted := []string{"grpc_server_handled_total", "mp_store_retained_bytes", "mp_pub_connections", "mp_ingest_store_write_duration_seconds"}
		if !testenv.AllInOne() {
			wanted = append(wanted, "grpc_client_handled_total", "mp_store_link_up")
		}
		for _, name := range wanted {
			if s.families[name] == "" {
				t.Errorf("no service exports %s", name)
			}
		}
	})
}

// dashboardExprs returns every query of a Grafana dashboard, rows' panels
// included.
func dashboardExprs(t *testing.T, dashboard []byte) []string {
	t.Helper()
	type panel struct {
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(dashboard, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	var exprs []string
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			for _, target := range p.Targets {
				exprs = append(exprs, target.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return exprs
}

var (
	promSelector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{[^}]*\}`)
	promStrings  = regexp.MustCompile(`"[^"]*"|\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promNumbers  = regexp.MustCompile(`\b[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\b`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
)

// promqlMetrics returns the metric names a query selects. The dashboard
// writes every selector with braces (name{...}), which makes names
// unambiguous; a bare identifier that is neither a function nor an
// operator is reported, so no metric hides from the check.
func promqlMetrics(expr string) ([]string, error) {
	var names []string
	for _, m := range promSelector.FindAllStringSubmatch(expr, -1) {
		names = append(names, m[1])
	}
	rest := promSelector.ReplaceAllString(expr, " ")
	rest = promStrings.ReplaceAllString(rest, " ")
	rest = promGrouping.ReplaceAllString(rest, " ")
	rest = promNumbers.ReplaceAllString(rest, " ")
	for _, id := range promIdent.FindAllString(rest, -1) {
		if strings.HasSuffix(id, "(") || slices.Contains([]string{"and", "or", "unless", "bool"}, id) {
			continue
		}
		return names, &bareNameError{id}
	}
	return names, nil
}

type bareNameError struct{ id string }

func (e *bareNameError) Error() string {
	return "bare identifier " + e.id + " (write metric selectors as name{...})"
}

// TestEveryBinaryAnswersVersion: the services through config's -version,
// the tools through their flags; a version linked in with -ldflags -X (as
// the Makefile and the Dockerfile do) is what they print.
func TestEveryBinaryAnswersVersion(t *testing.T) {
	if testenv.AllInOne() {
		t.Skip("the same binaries in either mode: checked once, in the default one")
	}
	const pkg = "github.com/messageplane/mp/internal/buildinfo.Version"
	for _, f := range []string{"Makefile", "Dockerfile"} {
		if !strings.Contains(string(repoFile(t, f)), "-X "+pkg+"=") {
			t.Errorf("%s does not link the version into %s", f, pkg)
		}
	}
	bin := testenv.Binaries(t)
	for _, s := range append([]string{"mp"}, testenv.Services...) {
		name := "mp-" + s
		if s == "mp" {
			name = "mp"
		}
		out, err := exec.Command(filepath.Join(bin, name), "-version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), name+" dev (go") {
			t.Errorf("%s -version: %q %v", name, out, err)
		}
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-ldflags", "-X "+pkg+"=v9.9.9-e2e", "-o", dir+"/", "./cmd/mplb", "./cmd/mpbench")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tool := range []string{"mplb", "mpbench"} {
		out, err := exec.Command(filepath.Join(dir, tool), "-version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), tool+" v9.9.9-e2e (go") {
			t.Errorf("%s -version: %q %v", tool, out, err)
		}
	}
}
