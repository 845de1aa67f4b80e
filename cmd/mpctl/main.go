// Command mpctl is Message Plane's small command-line tool, shipped in every
// image: it doubles as the container health check and as a first way to
// talk to a running deployment.
//
//	mpctl check URL               exit 0 when URL (an admin /readyz) answers 200
//	mpctl call ENDPOINT OP [ARGS] one RPC call; ARGS is a JSON object; prints the reply
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/messageplane/mp/client"
)

const usage = `Usage:
  mpctl check URL                 exit 0 when URL (e.g. http://127.0.0.1:48930/readyz) answers 200
  mpctl call ENDPOINT OP [ARGS]   one RPC call (ARGS: a JSON object); prints the reply as JSON

Examples:
  mpctl call tcp://127.0.0.1:48913 ping
  mpctl call tcp://127.0.0.1:48913 bus.publish '{"topic":"plugin1.output","payload":{"content":"Hello"}}'
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "check":
		if len(os.Args) != 3 {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		os.Exit(check(os.Args[2]))
	case "call":
		if len(os.Args) < 4 || len(os.Args) > 5 {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		os.Exit(call(os.Args[2], os.Args[3], os.Args[4:]))
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
}

func check(url string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mpctl:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "mpctl:", url, resp.Status)
		return 1
	}
	return 0
}

func call(endpoint, op string, rest []string) int {
	var args map[string]any
	if len(rest) == 1 {
		if err := json.Unmarshal([]byte(rest[0]), &args); err != nil {
			fmt.Fprintln(os.Stderr, "mpctl: ARGS must be a JSON object:", err)
			return 2
		}
	}
	c, err := client.Dial(endpoint, client.Options{Timeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mpctl:", err)
		return 1
	}
	defer c.Close()
	r, err := c.Call(context.Background(), op, args)
	if r == nil {
		fmt.Fprintln(os.Stderr, "mpctl:", err)
		return 1
	}
	v, _ := json.Marshal(map[string]any{"ok": r.OK, "result": r.Result, "error": r.Error})
	fmt.Println(string(v))
	if !r.OK {
		return 1
	}
	return 0
}
