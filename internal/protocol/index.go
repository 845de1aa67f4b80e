package protocol

// IndexKind is how an index key is extracted from the payload.
type IndexKind uint8

const (
	IndexString     IndexKind = iota // its source's string, even empty; else null
	IndexNonEmpty                    // the first non-empty string among its sources; else null
	IndexPriority                    // an integer (see docs/PROTOCOL.md "Edge cases")
	IndexTimestamp                   // a float: the source's number or decimal string, else the event ts
	IndexGeneration                  // a number truncated to an integer, else null
)

// IndexKey is one of the nine index keys of docs/PROTOCOL.md "Events".
type IndexKey struct {
	Name string
	Kind IndexKind
	// Sources are the payload paths it is read from, in order of
	// preference; a path of two names is a key of an object member.
	Sources [][]string
	// Where plugins filter on it: a bus.query argument (exact match), a
	// replay filter param (exact match), its "<name>_re" replay param.
	Query, ReplayExact, ReplayRegex bool
}

// IndexKeys are the index keys in the contract's order, which is the order
// events render them in. Adding an index key is one row here; the store
// extracts, renders, queries and replays by this table.
var IndexKeys = []IndexKey{
	{Name: "plugin_id", Kind: IndexString, Sources: paths("plugin_id"), Query: true, ReplayExact: true, ReplayRegex: true},
	{Name: "source", Kind: IndexString, Sources: paths("source"), Query: true, ReplayExact: true, ReplayRegex: true},
	{Name: "priority", Kind: IndexPriority, Sources: paths("priority")},
	{Name: "kind", Kind: IndexNonEmpty, Sources: paths("kind"), Query: true, ReplayExact: true, ReplayRegex: true},
	{Name: "type", Kind: IndexNonEmpty, Sources: paths("type", "message_type"), Query: true, ReplayExact: true, ReplayRegex: true},
	{Name: "timestamp", Kind: IndexTimestamp, Sources: paths("timestamp", "time")},
	{Name: "id", Kind: IndexNonEmpty, Sources: paths("message_id", "event_id", "lifecycle_id", "id", "task_id", "run_id")},
	{Name: "generation", Kind: IndexGeneration, Sources: paths("generation")},
	{Name: "conversation_id", Kind: IndexNonEmpty, Sources: [][]string{{"metadata", "conversation_id"}}, ReplayExact: true},
}

func paths(names ...string) [][]string {
	out := make([][]string, len(names))
	for i, n := range names {
		out[i] = []string{n}
	}
	return out
}
