package record

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// A configuration snapshot is what an apply (or run) loaded: the text of
// its configuration files and the final value of every variable. It is
// content-addressed (Hash) and written once per namespace of the runs it
// produced, beside the runs' records; each run's job names it
// (MetaConfigSnapshot). `caravan rerun RUN -param name=value` loads it to
// expand the run's experiment at the edited params, so that args and env
// computed from params follow the edit exactly as they would in the files.
const SnapshotsPrefix = "caravan/configs/"

// Meta keys of a run's provenance beyond its own declaration.
const (
	// MetaConfigSnapshot is the Hash of the configuration snapshot the
	// run was compiled from; absent when none was kept.
	MetaConfigSnapshot = "caravan_config_snapshot"
	// MetaClonedFrom is the run a `rerun -param` clone was made from,
	// and MetaChanged what it changed (a JSON list of ParamChange).
	MetaClonedFrom = "caravan_cloned_from"
	MetaChanged    = "caravan_changed"
)

// OriginClone is MetaOrigin of a run made by `caravan rerun -param`.
const OriginClone = "clone"

// ConfigSnapshot is a configuration as a run was compiled from it.
type ConfigSnapshot struct {
	// Files maps each configuration file's name, relative to the
	// configuration directory, to its text.
	Files map[string]string `json:"files"`
	// Vars are the variables' final values, each with its type, in
	// go-cty's JSON forms.
	Vars map[string]SnapshotValue `json:"vars"`
}

// SnapshotValue is one variable's value and type, as go-cty writes them.
type SnapshotValue struct {
	Type  json.RawMessage `json:"type"`
	Value json.RawMessage `json:"value"`
}

// SnapshotRef says where a snapshot is: its namespace, its project's
// prefix and its hash.
type SnapshotRef struct {
	Namespace string
	Project   string
	Hash      string
}

// Path is the Variable path of the snapshot.
func (r SnapshotRef) Path() string {
	project := r.Project
	if project == "" {
		project = noProjectSegment
	}
	return SnapshotsPrefix + project + "/" + r.Hash
}

// ParamChange is one param a clone changed.
type ParamChange struct {
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
}

// ChangesOf reads MetaChanged; malformed meta gives none.
func ChangesOf(meta map[string]string) []ParamChange {
	var out []ParamChange
	if v := meta[MetaChanged]; v != "" && json.Unmarshal([]byte(v), &out) != nil {
		return nil
	}
	return out
}

// ChangesText is "lr 0.01 → 0.005, batch 128 → 256".
func ChangesText(cs []ParamChange) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Name + " " + c.From + " → " + c.To
	}
	return strings.Join(parts, ", ")
}

// Hash is the snapshot's content address: the SHA-256 of its JSON
// (encoding/json writes map keys sorted, so equal snapshots hash equal).
func (s *ConfigSnapshot) Hash() string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
