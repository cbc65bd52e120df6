package spec

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/caravan-ml/caravan/internal/record"
)

// SnapshotOf is the configuration cfg was loaded from: its configuration
// files' text, relative to its directory, and its variables' final values
// with their types. Reloaded with LoadSnapshot it yields the same runs.
func SnapshotOf(cfg *Config) (*record.ConfigSnapshot, error) {
	s := &record.ConfigSnapshot{Files: map[string]string{}, Vars: map[string]record.SnapshotValue{}}
	for _, name := range cfg.SourceFiles {
		f := cfg.Files[name]
		if f == nil {
			return nil, fmt.Errorf("snapshot of %s: file %s was not read", cfg.Dir, name)
		}
		rel := name
		if cfg.Dir != "" {
			if r, err := filepath.Rel(cfg.Dir, name); err == nil {
				rel = r
			}
		}
		s.Files[filepath.ToSlash(rel)] = string(f.Bytes)
	}
	for _, n := range slices.Sorted(maps.Keys(cfg.Variables)) {
		v := cfg.Variables[n]
		if !v.IsWhollyKnown() {
			return nil, fmt.Errorf("snapshot of %s: variable %s has no known value", cfg.Dir, n)
		}
		ty, err := ctyjson.MarshalType(v.Type())
		if err != nil {
			return nil, fmt.Errorf("snapshot of %s: variable %s: %w", cfg.Dir, n, err)
		}
		val, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			return nil, fmt.Errorf("snapshot of %s: variable %s: %w", cfg.Dir, n, err)
		}
		s.Vars[n] = record.SnapshotValue{Type: ty, Value: val}
	}
	return s, nil
}

// LoadSnapshot loads a snapshot as the directory dir (its files get the
// names they had there, so that runs compiled from it name the same
// files), with opts (a catalogue, a Point); the snapshot's variable values
// are set over any opts gives.
func LoadSnapshot(s *record.ConfigSnapshot, dir string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	files := make(map[string][]byte, len(s.Files))
	for rel, text := range s.Files {
		files[filepath.Join(dir, filepath.FromSlash(rel))] = []byte(text)
	}
	opts.VarValues = map[string]cty.Value{}
	var diags hcl.Diagnostics
	for n, sv := range s.Vars {
		ty, err := ctyjson.UnmarshalType(sv.Type)
		if err == nil {
			var v cty.Value
			if v, err = ctyjson.Unmarshal(sv.Value, ty); err == nil {
				opts.VarValues[n] = v
				continue
			}
		}
		diags = append(diags, diagErr(fileRange("<configuration snapshot>"), "Unreadable recorded variable",
			"The configuration snapshot holds a value of var.%s that cannot be read (%v), so it cannot reproduce the run. Edit the files and apply instead.", n, err))
	}
	if diags.HasErrors() {
		return &Config{Dir: dir, Files: map[string]*hcl.File{}, Pools: map[string]*Pool{}}, diags
	}
	return LoadSource(dir, files, opts)
}
