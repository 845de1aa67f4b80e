package client

import (
	"os"
	"strings"
)

// Default endpoints, as `make run` binds them.
const (
	DefaultRPCEndpoint    = "tcp://127.0.0.1:48913"
	DefaultPubEndpoint    = "tcp://127.0.0.1:48914"
	DefaultIngestEndpoint = "tcp://127.0.0.1:48915"
)

// Endpoint turns "host:port" into "tcp://host:port"; anything holding
// "://" (tcp, ipc, inproc) is returned as is.
func Endpoint(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.Contains(s, "://") {
		return s
	}
	return "tcp://" + s
}

// RPCEndpoint is $MP_RPC_ENDPOINT, else DefaultRPCEndpoint: the variable
// the services read, so a plugin started beside them finds them.
func RPCEndpoint() string { return fromEnv("MP_RPC_ENDPOINT", DefaultRPCEndpoint) }

// PubEndpoint is $MP_PUB_ENDPOINT, else DefaultPubEndpoint.
func PubEndpoint() string { return fromEnv("MP_PUB_ENDPOINT", DefaultPubEndpoint) }

// IngestEndpoint is $MP_INGEST_ENDPOINT, else DefaultIngestEndpoint.
func IngestEndpoint() string { return fromEnv("MP_INGEST_ENDPOINT", DefaultIngestEndpoint) }

func fromEnv(name, def string) string {
	if v := Endpoint(os.Getenv(name)); v != "" {
		return v
	}
	return def
}
