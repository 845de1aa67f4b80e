package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NATS is a NATS cluster with JetStream on loopback: n nats-server
// processes, each with its own storage, routed to each other.
type NATS struct {
	Nodes   []*Proc
	URLs    []string // client URLs, in node order
	monitor []string // monitoring addresses, in node order
}

// URL is every node's client URL, comma-separated (MP_NATS_URL).
func (n *NATS) URL() string { return strings.Join(n.URLs, ",") }

// StartNATS starts an n-node JetStream cluster and waits until each node
// answers its monitoring health check for JetStream.
func StartNATS(t testing.TB, n int) *NATS {
	t.Helper()
	dir := t.TempDir()
	client, route, mon := make([]int, n), make([]int, n), make([]int, n)
	for i := range n {
		client[i], route[i], mon[i] = FreePort(t), FreePort(t), FreePort(t)
	}
	c := &NATS{}
	for i := range n {
		var routes []string
		for j := range n {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", route[j]))
			}
		}
		conf := filepath.Join(dir, fmt.Sprintf("n%d.conf", i))
		text := fmt.Sprintf(`server_name: n%d
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
max_payload: 8MB
jetstream { store_dir: %q }
cluster { name: mp-test, listen: 127.0.0.1:%d, routes: [%s] }
`, i, client[i], mon[i], filepath.Join(dir, fmt.Sprintf("n%d", i)), route[i], strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		c.URLs = append(c.URLs, fmt.Sprintf("nats://127.0.0.1:%d", client[i]))
		c.monitor = append(c.monitor, fmt.Sprintf("127.0.0.1:%d", mon[i]))
		p := &Proc{Name: "nats-server", Args: []string{"-c", conf}, t: t}
		p.start()
		t.Cleanup(func() {
			p.Kill()
			if t.Failed() {
				t.Logf("--- nats node %d output ---\n%s", i, p.Logs())
			}
		})
		c.Nodes = append(c.Nodes, p)
	}
	for i := range n {
		waitHTTP(t, c.monitor[i], "/healthz?js-enabled-only=true", 30*time.Second)
	}
	return c
}

// StreamLeader is the index of the node that leads stream, as the first
// node that answers sees it, or -1 when none does.
func (n *NATS) StreamLeader(t testing.TB, stream string) int {
	t.Helper()
	for _, addr := range n.monitor {
		resp, err := http.Get("http://" + addr + "/jsz?accounts=true&streams=true")
		if err != nil {
			continue
		}
		var jsz struct {
			Accounts []struct {
				Streams []struct {
					Name    string `json:"name"`
					Cluster struct {
						Leader string `json:"leader"`
					} `json:"cluster"`
				} `json:"stream_detail"`
			} `json:"account_details"`
		}
		err = json.NewDecoder(resp.Body).Decode(&jsz)
		resp.Body.Close()
		if err != nil {
			continue
		}
		for _, a := range jsz.Accounts {
			for _, s := range a.Streams {
				var i int
				if s.Name == stream && s.Cluster.Leader != "" {
					if _, err := fmt.Sscanf(s.Cluster.Leader, "n%d", &i); err == nil {
						return i
					}
				}
			}
		}
	}
	return -1
}
