// Package buildinfo is the one place a binary's version lives. The Makefile
// and the Dockerfile set it at link time:
//
//	go build -ldflags "-X github.com/messageplane/mp/internal/buildinfo.Version=v1.2.3"
//
// (from `git describe --tags --always --dirty` in a git checkout, else the
// VERSION make variable or Docker build argument), so `-version` and the
// mp_build_info metric say which build is running.
package buildinfo

import (
	"fmt"
	"runtime/debug"
)

// Version is overwritten at link time; "dev" marks a plain `go build`.
var Version = "dev"

// Get returns the version and the Go version the binary was built with. A
// binary built by `go install module@version` has no ldflags but knows its
// module version, which is used then.
func Get() (version, goVersion string) {
	version = Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
	}
	return version, goVersion
}

// String is what `-version` prints: "NAME VERSION (GOVERSION)".
func String(name string) string {
	v, gv := Get()
	return fmt.Sprintf("%s %s (%s)", name, v, gv)
}
