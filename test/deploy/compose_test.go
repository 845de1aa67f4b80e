package deploy

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

const repo = "../.."

// TestComposeFile loads docker-compose.yml with the loader Compose v2 uses.
func TestComposeFile(t *testing.T) {
	root, _ := filepath.Abs(repo)
	details := types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) { o.SetProjectName("mp", true) })
	if err != nil {
		t.Fatal(err)
	}
	published := map[string]string{"rpc": "48913", "pub": "48914", "ingest-lb": "48915"}
	for _, name := range []string{"store", "rpc", "pub", "ingest", "ingest-lb"} {
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("service %s missing", name)
		}
		if s.Build == nil || s.Build.Target == "" {
			t.Errorf("%s: no build target", name)
		}
		if want, ok := published[name]; ok {
			// The bus has no authentication: loopback unless MP_BIND_HOST says otherwise.
			if len(s.Ports) != 1 || s.Ports[0].Published != want || s.Ports[0].HostIP != "127.0.0.1" {
				t.Errorf("%s: ports %+v, want %s published on 127.0.0.1", name, s.Ports, want)
			}
		} else if len(s.Ports) != 0 {
			t.Errorf("%s publishes %+v; only the edges' public ports are published (and ingest must scale)", name, s.Ports)
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || s.HealthCheck.Interval == nil || time.Duration(*s.HealthCheck.Interval) > 5*time.Second {
			t.Errorf("%s: health check %+v (want one with a short interval)", name, s.HealthCheck)
		}
		if s.MemLimit <= 0 {
			t.Errorf("%s: no memory limit", name)
		}
		if name == "ingest-lb" {
			continue
		}
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= 10*time.Second {
			t.Errorf("%s: stop_grace_period must exceed the 10s drain", name)
		}
		if _, ok := s.Environment["MP_LOG_LEVEL"]; !ok {
			t.Errorf("%s: MP_LOG_LEVEL not settable", name)
		}
		if name != "store" {
			if d, ok := s.DependsOn["store"]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s: depends_on store %+v, want service_healthy", name, s.DependsOn)
			}
			if v := s.Environment["MP_STORE_ADDR"]; v == nil || *v != "store:48920" {
				t.Errorf("%s: MP_STORE_ADDR %v", name, v)
			}
		}
	}
	if d := p.Services["ingest-lb"].DependsOn["ingest"]; d.Condition != types.ServiceConditionHealthy {
		t.Errorf("ingest-lb should wait for a healthy ingest: %+v", d)
	}
	// every MP_ variable the compose file sets can come from the environment
	env := types.Mapping{"MP_TOPIC_MAX": "7", "MP_RPC_PORT": "50000", "MP_BIND_HOST": "0.0.0.0", "MP_STORE_MEMORY": "2g"}
	details.Environment = env
	p, err = loader.LoadWithContext(context.Background(), details, func(o *loader.Options) { o.SetProjectName("mp", true) })
	if err != nil {
		t.Fatal(err)
	}
	if v := p.Services["store"].Environment["MP_TOPIC_MAX"]; v == nil || *v != "7" {
		t.Errorf("MP_TOPIC_MAX from the environment: %v", v)
	}
	if got := p.Services["rpc"].Ports[0]; got.Published != "50000" || got.HostIP != "0.0.0.0" {
		t.Errorf("MP_RPC_PORT and MP_BIND_HOST from the environment: %+v", got)
	}
	if got := p.Services["store"].MemLimit; got != 2<<30 {
		t.Errorf("MP_STORE_MEMORY from the environment: %d", got)
	}
}

// TestComposeSetsEveryVariable: every MP_ variable a service reads (its
// envconfig tags, and those of the shared config structs it embeds) can be
// set through the compose file, except the listen addresses the images fix.
func TestComposeSetsEveryVariable(t *testing.T) {
	root, _ := filepath.Abs(repo)
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("mp", true) })
	if err != nil {
		t.Fatal(err)
	}
	tags := func(path string) []string {
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range regexp.MustCompile(`envconfig:"([A-Z_]+)"`).FindAllSubmatch(b, -1) {
			out = append(out, "MP_"+string(m[1]))
		}
		return out
	}
	shared := map[string]string{"config.Common": "internal/config/config.go", "limits.Config": "internal/limits/limits.go"}
	fixed := regexp.MustCompile(`_ENDPOINT$|^MP_STORE_LISTEN$|^MP_HTTP_ADDR$`)
	for _, svc := range []string{"store", "rpc", "ingest", "pub"} {
		main := filepath.Join("services", svc, "main.go")
		src, _ := os.ReadFile(filepath.Join(root, main))
		vars := tags(main)
		for embed, file := range shared {
			if strings.Contains(string(src), "\t"+embed+"\n") {
				vars = append(vars, tags(file)...)
			}
		}
		for _, v := range vars {
			if fixed.MatchString(v) {
				continue
			}
			if _, ok := p.Services[svc].Environment[v]; !ok {
				t.Errorf("%s reads %s but docker-compose.yml cannot set it", svc, v)
			}
		}
	}
}
