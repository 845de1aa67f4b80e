// Package config loads a service's settings from MP_* environment variables
// (envconfig) with the conventions every Message Plane binary shares: -h
// prints every variable with its default, bad config exits 2 with one line.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/messageplane/mp/internal/buildinfo"
)

// Prefix is the prefix of every variable.
const Prefix = "MP"

// Common holds the settings every service has.
type Common struct {
	LogLevel  string        `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFormat string        `envconfig:"LOG_FORMAT" default:"text" desc:"text or json"`
	Pprof     bool          `envconfig:"PPROF" default:"false" desc:"serve /debug/pprof on the HTTP listener"`
	Grace     time.Duration `envconfig:"SHUTDOWN_GRACE" default:"10s" desc:"time to drain (finish requests, flush items and events) on SIGTERM"`
}

// Edge holds the settings every edge (rpc, ingest, pub) has.
type Edge struct {
	StoreAddr string `envconfig:"STORE_ADDR" default:"127.0.0.1:48920" desc:"store service gRPC address: host:port, a name resolving to every store replica, or a comma-separated list (calls spread over them)"`
}

// ErrVersion is returned by Parse after it printed the version (-version).
var ErrVersion = errors.New("version printed")

// Load fills spec from the environment, handling -h and -version. It exits
// the process on -h and -version (0) and on invalid flags or config (2), as
// a main would.
func Load(name, about string, spec any) {
	if err := Parse(name, about, spec, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) || errors.Is(err, ErrVersion) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
}

// Parse is Load without exiting, for tests.
func Parse(name, about string, spec any, args []string, out io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			Usage(name, about, spec, out)
		}
		return err
	}
	if *version {
		fmt.Fprintln(out, buildinfo.String(name))
		return ErrVersion
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (configuration is read from MP_* variables; -h lists them)", fs.Arg(0))
	}
	if err := envconfig.Process(Prefix, spec); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Usage prints what the binary is and every variable it reads, once each
// (parts that share a variable, as in the all-in-one mp, list it once).
func Usage(name, about string, spec any, out io.Writer) {
	fmt.Fprintf(out, "Usage: %s [-version]\n\n%s\n\n  -version  print the version and exit\n\nConfigured by environment variables:\n\n", name, about)
	var lines bytes.Buffer
	_ = envconfig.Usagef(Prefix, spec, &lines, "{{range .}}{{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}")
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	seen := map[string]bool{}
	for _, line := range strings.SplitAfter(lines.String(), "\n") {
		key, _, _ := strings.Cut(line, "\t")
		if line == "" || seen[key] {
			continue
		}
		seen[key] = true
		fmt.Fprint(tw, "  "+line)
	}
	_ = tw.Flush()
}

// Check exits with status 2 and one line when err is not nil: for
// validation a service does after Load.
func Check(name string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: config: %v\n", name, err)
		os.Exit(2)
	}
}
