package handler

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/messageplane/mp/internal/protocol"
	"github.com/messageplane/mp/internal/wire"
)

// Mode is MP_VALIDATE_MODE.
type Mode int

const (
	Strict Mode = iota // wrong argument types answer BAD_ARGS
	Warn               // they are logged and replaced by defaults
	Off                // they are silently replaced by defaults
)

// ParseMode parses strict|warn|off.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "strict", "":
		return Strict, nil
	case "warn":
		return Warn, nil
	case "off":
		return Off, nil
	}
	return Strict, fmt.Errorf("MP_VALIDATE_MODE %q is not strict, warn or off", s)
}

// args reads one request's arguments. A value of the wrong type is a
// violation: in strict mode the first one becomes the BAD_ARGS answer, in
// the other modes the argument falls back to its default. An explicit null
// always means absent.
type args struct {
	obj   wire.Value
	enc   wire.Encoding // the request's, which the reply uses
	mode  Mode
	bad   string // first violating field (strict)
	log   *slog.Logger
	op    string
	reqID wire.Value
	// spliced are buffers the store handed over that the result refers
	// to; they go back to the pool once the reply is encoded.
	spliced [][]byte
}

// splice records a store buffer the result refers to.
func (a *args) splice(b []byte) []byte {
	a.spliced = append(a.spliced, b)
	return b
}

func (a *args) violate(field string) {
	switch a.mode {
	case Strict:
		if a.bad == "" {
			a.bad = field
		}
	case Warn:
		a.log.Warn("invalid argument, using its default", "op", a.op, "field", field, "req_id", a.reqID.Str)
	}
}

// get returns a present, non-null argument.
func (a *args) get(name string) (wire.Value, bool) {
	v, ok := a.obj.Get(name)
	if !ok || v.Kind == wire.Null {
		return wire.Value{}, false
	}
	return v, true
}

// str returns a string argument.
func (a *args) str(name string) (string, bool) {
	v, ok := a.get(name)
	if !ok {
		return "", false
	}
	if v.Kind != wire.String {
		a.violate(name)
		return "", false
	}
	return v.Str, true
}

// optStr returns a string argument as a pointer (nil when absent).
func (a *args) optStr(name string) *string {
	if s, ok := a.str(name); ok {
		return &s
	}
	return nil
}

// integer returns an integer argument >= min; integral floats count,
// booleans never do.
func (a *args) integer(name string, min int64) (int64, bool) {
	v, ok := a.get(name)
	if !ok {
		return 0, false
	}
	i, isInt := v.AsInt()
	if !isInt || i < min {
		a.violate(name)
		return 0, false
	}
	return i, true
}

// number returns a numeric argument (never a boolean).
func (a *args) number(name string) (float64, bool) {
	v, ok := a.get(name)
	if !ok {
		return 0, false
	}
	f, isNum := v.AsFloat()
	if !isNum {
		a.violate(name)
		return 0, false
	}
	return f, true
}

func (a *args) boolean(name string) bool {
	v, ok := a.get(name)
	if !ok {
		return false
	}
	if v.Kind != wire.Bool {
		a.violate(name)
		return false
	}
	return v.Bool
}

// store reads store (alias bus), default "messages".
func (a *args) store() string {
	name := "store"
	if _, ok := a.get("store"); !ok {
		if _, ok := a.get("bus"); ok {
			name = "bus"
		}
	}
	if s, ok := a.str(name); ok {
		return s
	}
	return protocol.DefaultStore
}

// topic reads the topic: a string without NUL.
func (a *args) topic() (string, bool) {
	t, ok := a.str("topic")
	if ok && strings.IndexByte(t, 0) >= 0 {
		a.violate("topic")
		return "", false
	}
	return t, ok
}

// limit reads limit: an integer >= 1, default def, clamped to max.
func (a *args) limit(def, max int) int {
	if n, ok := a.integer("limit", 1); ok {
		return int(min(n, int64(max)))
	}
	return min(def, max)
}
