package compile

import (
	"cmp"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
)

// jobMeta is the job's meta: everything the run's record will hold (see
// internal/record's Meta* keys), since the controller writes the record
// from the job.
func jobMeta(run spec.Run, params []formattedParam, opts Options, id, hash string) (map[string]string, error) {
	e := run.Experiment
	m := map[string]string{
		record.MetaManagedBy:    record.ManagedByValue,
		record.MetaRunID:        id,
		record.MetaExperiment:   e.Name,
		record.MetaSpecHash:     hash,
		record.MetaPool:         e.Pool,
		record.MetaGPUs:         strconv.Itoa(e.Resources.GPUs),
		record.MetaParams:       paramsJSON(params),
		record.MetaSourceGit:    "",
		record.MetaSourceCommit: "",
		record.MetaSourcePath:   "",
		record.MetaFile:         relFile(opts.ConfigDir, e.DeclRange.Filename),
		record.MetaConfigDir:    opts.ConfigDir,
		record.MetaLine:         strconv.Itoa(e.DeclRange.Start.Line),
		record.MetaConfigCommit: opts.ConfigCommit,
		record.MetaConfigDirty:  strconv.FormatBool(opts.ConfigDirty),
		record.MetaTimeout:      "",
		record.MetaDependsOn:    strings.Join(e.DependsOn, ","),
		record.MetaRerun:        strconv.Itoa(e.Rerun),
	}
	if e.Image != "" {
		m[record.MetaImage] = e.Image
		m[record.MetaImagePinning] = cmp.Or(e.ImagePinning, record.PinningPin)
		if spec.HasDigest(e.Image) {
			// Declared by digest: pinned as written.
			_, m[record.MetaImageDigest], _ = strings.Cut(e.Image, "@")
		}
	}
	if opts.CaravanVersion != "" {
		m[record.MetaCaravanVersion] = opts.CaravanVersion
	}
	if e.Project != "" {
		m[record.MetaProject] = e.Project
	}
	// What the pool cost when the run was submitted, for cost reports
	// that outlive a change of the pool's price.
	if p, err := opts.pool(run); err == nil && p.PricePerHour > 0 {
		m[record.MetaPricePerHour] = strconv.FormatFloat(p.PricePerHour, 'f', -1, 64)
		if p.GPUsPerNode > 0 {
			m[record.MetaGPUsPerNode] = strconv.Itoa(p.GPUsPerNode)
		}
	}
	if s := e.Source; s != nil {
		m[record.MetaSourceGit], m[record.MetaSourceCommit], m[record.MetaSourcePath] = s.Git, s.Commit, s.Path
	}
	if e.Timeout > 0 {
		m[record.MetaTimeout] = e.Timeout.String()
	}
	// The controller's watch over the run, not part of what it runs (see
	// resolved): changing it re-runs nothing.
	if e.StallTimeout > 0 {
		m[record.MetaStallTimeout] = e.StallTimeout.String()
		m[record.MetaOnStall] = e.OnStall
	}
	for _, p := range params {
		k := MetaParamKey(p.name)
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("compile: param %q of experiment %q gives meta key %s twice; rename it", p.name, e.Name, k)
		}
		m[k] = p.text
	}
	return m, nil
}

// relFile is the experiment's file relative to the configuration directory
// with forward slashes, or the name as given when it lies outside.
func relFile(dir, file string) string {
	if file == "" {
		return ""
	}
	if dir != "" {
		if filepath.IsAbs(dir) != filepath.IsAbs(file) {
			// Abs on both sides lets a relative dir match an absolute
			// file name; only here, since it asks the OS for the cwd.
			ad, err1 := filepath.Abs(dir)
			af, err2 := filepath.Abs(file)
			if err1 != nil || err2 != nil {
				return filepath.ToSlash(file)
			}
			dir, file = ad, af
		}
		if rel, err := filepath.Rel(dir, file); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(file)
}
