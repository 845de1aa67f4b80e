// Command mpctl is Message Plane's command-line tool, shipped in every
// image: the first thing to reach for to publish, read, follow and push
// from a shell, and the containers' health check (`mpctl check URL`).
//
// It parses flags with the standard library: every verb has a handful of
// flags, and the one thing the flag package lacks (flags after positional
// arguments) takes ten lines here, which does not earn a dependency.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/messageplane/mp/client"
)

// verb is one subcommand.
type verb struct {
	name    string
	args    string // positional arguments, for the usage line
	summary string
	help    string // more lines after the summary
	minArgs int
	maxArgs int // -1: any
	flags   func(fs *flag.FlagSet, o *opts)
	run     func(e *env, args []string) error
}

// opts holds every flag; each verb registers the ones it reads.
type opts struct {
	rpc, pub, ingest string
	timeout          time.Duration
	jsonEnc, msgpack bool
	output           string

	store            string
	limit            int
	light, result    bool
	since            int64
	count            int
	idleCheck        time.Duration
	plan             string
	pluginID, source string
	kind, typ        string
	priorityMin      int64
	sinceTS, untilTS float64
	snapshot         bool
	mode             string
	batch            int

	setFlags       map[string]bool // flags given on the command line
	encoding       client.Encoding
	pretty         bool
	stdout, stderr io.Writer
}

// env is what a verb runs with.
type env struct {
	*opts
	stdin io.Reader
}

var verbs = []*verb{
	pubVerb, subVerb("sub"), subVerb("tail"), recentVerb, sinceVerb, queryVerb, replayVerb,
	topicsVerb, pushVerb, pingVerb, healthVerb, callVerb, checkVerb, versionVerb,
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status (0 ok,
// 1 failed, 2 usage).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage())
		return 2
	}
	name := args[0]
	if name == "-version" || name == "--version" {
		name = "version" // as every binary of the project answers it
	}
	if name == "-h" || name == "--help" || name == "help" {
		if len(args) > 1 {
			if v := find(args[1]); v != nil {
				fmt.Fprint(stdout, verbUsage(v))
				return 0
			}
		}
		fmt.Fprint(stdout, mainUsage())
		return 0
	}
	v := find(name)
	if v == nil {
		fmt.Fprintf(stderr, "mpctl: unknown command %q\n\n%s", name, mainUsage())
		return 2
	}
	o := &opts{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("mpctl "+v.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if v.flags != nil {
		v.flags(fs, o)
	}
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, verbUsage(v))
		return 0
	}
	if err == nil && (len(pos) < v.minArgs || (v.maxArgs >= 0 && len(pos) > v.maxArgs)) {
		err = fmt.Errorf("wrong number of arguments")
	}
	if err == nil {
		err = o.finish(fs)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mpctl %s: %v\n\n%s", v.name, err, verbUsage(v))
		return 2
	}
	if err := v.run(&env{opts: o, stdin: stdin}, pos); err != nil {
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintf(stderr, "mpctl %s: %v\n\n%s", v.name, err, verbUsage(v))
			return 2
		}
		fmt.Fprintf(stderr, "mpctl %s: %s\n", v.name, explain(err))
		return 1
	}
	return 0
}

// usageError is a bad argument found while running: exit status 2.
type usageError struct{ error }

func find(name string) *verb {
	for _, v := range verbs {
		if v.name == name {
			return v
		}
	}
	return nil
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments (the flag package stops at the first positional one);
// everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos, rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// Flag groups. Endpoints default from the variables the services read.
func rpcFlags(fs *flag.FlagSet, o *opts) {
	fs.StringVar(&o.rpc, "rpc", client.RPCEndpoint(), "RPC endpoint, tcp://host:port or host:port (env MP_RPC_ENDPOINT)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "how long to wait for each reply")
	fs.BoolVar(&o.jsonEnc, "json", false, "send requests as JSON (the default)")
	fs.BoolVar(&o.msgpack, "msgpack", false, "send requests as msgpack")
	outputFlag(fs, o)
}

func outputFlag(fs *flag.FlagSet, o *opts) {
	fs.StringVar(&o.output, "o", "", "output: pretty or json (default: pretty on a terminal, JSON lines when piped)")
}

func storeFlag(fs *flag.FlagSet, o *opts) {
	fs.StringVar(&o.store, "store", "", "store (default messages)")
}

func readFlags(fs *flag.FlagSet, o *opts) {
	rpcFlags(fs, o)
	storeFlag(fs, o)
	fs.IntVar(&o.limit, "limit", 0, "most events (default: the server's, 200)")
	fs.BoolVar(&o.light, "light", false, "events without payload")
	fs.BoolVar(&o.result, "result", false, "print the whole result object instead of one event per line")
}

// finish checks flag combinations and settles defaults that depend on them.
func (o *opts) finish(fs *flag.FlagSet) error {
	o.setFlags = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.setFlags[f.Name] = true })
	if o.jsonEnc && o.msgpack {
		return errors.New("--json and --msgpack exclude each other")
	}
	if o.msgpack {
		o.encoding = client.Msgpack
	}
	switch o.output {
	case "":
		o.pretty = isTerminal(o.stdout)
	case "pretty":
		o.pretty = true
	case "json":
	default:
		return fmt.Errorf("-o %q: want pretty or json", o.output)
	}
	o.rpc, o.pub, o.ingest = client.Endpoint(o.rpc), client.Endpoint(o.pub), client.Endpoint(o.ingest)
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// explain turns an error into one line that names the endpoint and the
// likely fix.
func explain(err error) string {
	var nr *client.NoReplyError
	switch {
	case errors.As(err, &nr):
		return fmt.Sprintf("no reply from %s in %s — is mp-rpc running? (set --rpc or MP_RPC_ENDPOINT)",
			nr.Endpoint, nr.Waited.Round(100*time.Millisecond))
	case errors.Is(err, client.ErrNotSent):
		return err.Error() + " — is mp-ingest running? (set --ingest or MP_INGEST_ENDPOINT)"
	case errors.Is(err, client.ErrUnavailable):
		return err.Error() + " — mp-rpc is up but cannot reach mp-store: is it running? (mp-rpc's MP_STORE_ADDR)"
	}
	return err.Error()
}

func mainUsage() string {
	var b strings.Builder
	b.WriteString(`mpctl talks to Message Plane from a shell.

Usage: mpctl COMMAND [flags] [arguments]

Commands:
`)
	for _, v := range verbs {
		fmt.Fprintf(&b, "  %-8s %s\n", v.name, v.summary)
	}
	b.WriteString(`
Endpoints come from MP_RPC_ENDPOINT, MP_PUB_ENDPOINT and MP_INGEST_ENDPOINT
(defaults tcp://127.0.0.1:48913, :48914, :48915) or --rpc, --pub, --ingest;
host:port works without tcp://. Output is pretty on a terminal and one JSON
object per line when piped (-o pretty|json forces one).

"mpctl help COMMAND" or "mpctl COMMAND -h" describes a command.
`)
	return b.String()
}

func verbUsage(v *verb) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: mpctl %s [flags] %s\n\n%s\n", v.name, v.args, v.summary)
	if v.help != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimRight(v.help, "\n"))
	}
	fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
	if v.flags != nil {
		v.flags(fs, &opts{})
	}
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		name := "-" + f.Name
		if len(f.Name) > 1 {
			name = "-" + name
		}
		if typ != "" {
			name += " " + typ
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && !strings.Contains(usage, "(default") {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		lines = append(lines, fmt.Sprintf("  %-22s %s", name, usage))
	})
	if len(lines) > 0 {
		sort.Strings(lines)
		fmt.Fprintf(&b, "\nFlags:\n%s\n", strings.Join(lines, "\n"))
	}
	return b.String()
}
