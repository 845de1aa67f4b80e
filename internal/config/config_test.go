package config

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

type spec struct {
	Common
	Port int `envconfig:"TEST_PORT" default:"7" desc:"a port"`
}

func TestParse(t *testing.T) {
	var s spec
	t.Setenv("MP_TEST_PORT", "9")
	if err := Parse("x", "about", &s, nil, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if s.Port != 9 || s.LogLevel != "info" || s.Grace != 10*time.Second {
		t.Errorf("parsed %+v", s)
	}
	t.Setenv("MP_TEST_PORT", "nine")
	if err := Parse("x", "about", &s, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "MP_TEST_PORT") {
		t.Errorf("bad value: %v", err)
	}
	var out bytes.Buffer
	if err := Parse("x", "about", &s, []string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	for _, want := range []string{"MP_TEST_PORT", "a port", "MP_LOG_LEVEL", "MP_SHUTDOWN_GRACE", "about"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h output lacks %q:\n%s", want, out.String())
		}
	}
	if err := Parse("x", "about", &s, []string{"extra"}, &bytes.Buffer{}); err == nil {
		t.Error("stray argument accepted")
	}
}

// -version answers before the environment is read, so it works even where
// the configuration would be refused.
func TestParseVersion(t *testing.T) {
	var s spec
	t.Setenv("MP_TEST_PORT", "nine")
	var out bytes.Buffer
	if err := Parse("mp-x", "about", &s, []string{"-version"}, &out); !errors.Is(err, ErrVersion) {
		t.Fatalf("-version: %v", err)
	}
	if !strings.HasPrefix(out.String(), "mp-x dev (go") {
		t.Errorf("-version printed %q", out.String())
	}
}
