package terraform

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/zclconf/go-cty/cty"
)

// Options configure one pool's workspace.
type Options struct {
	// Pool is the caravan pool name; the workdir is StateDir/Pool.
	Pool string
	// Module is the pool's Terraform module directory.
	Module string
	// Vars are the module's inputs beside nodes (and node_pool).
	Vars map[string]cty.Value
	// NodePool is the pool's Nomad node pool. When the module declares a
	// node_pool variable caravan sets it, like nodes; Vars may repeat it
	// only with the same value.
	NodePool string
	// Spot is the pool's spot attribute. When the module declares a spot
	// variable caravan sets it, like node_pool, so that the pool's
	// machines are spot ones exactly when the pool says so.
	Spot bool
	// Bin is the terraform binary; "" finds it on PATH.
	Bin string
	// StateDir is the parent of every pool's workdir.
	StateDir string
	// LockTimeout is how long plan and apply wait for Terraform's state
	// lock (held by another process); default 5 minutes.
	LockTimeout time.Duration
	// Env is added to the process environment of every terraform run.
	Env map[string]string
	// Logger receives Terraform's output line by line.
	Logger *slog.Logger
	// ReadOnly makes a workspace for `caravan autoscale -dry-run`: it
	// runs no Terraform and writes nothing (no workdir, no init, which
	// would download providers); Nodes reads the state file directly and
	// Apply refuses.
	ReadOnly bool
}

// Workspace is one pool's Terraform workdir and state. Its methods are safe
// for concurrent use: every Terraform run of one workdir is serialised, in
// this process by a mutex shared by all Workspaces of that directory, and
// across processes by Terraform's own state lock.
type Workspace struct {
	opts    Options
	dir     string
	source  string
	bin     string
	mu      *sync.Mutex
	log     *slog.Logger
	initKey string // marker content of the current init
	// known is the state as the last successful read or apply left it;
	// nil after a failed or interrupted apply, which may have tainted
	// resources.
	known *NodeState
}

// workdirLocks holds one mutex per workdir for the whole process.
var workdirLocks sync.Map

// ApplyResult says what an Apply did.
type ApplyResult struct {
	// Changed is false when the plan found nothing to do.
	Changed bool
	// Nodes are the names in state after the run.
	Nodes []string
	// Took is the wall time of init, plan and apply.
	Took time.Duration
}

// ApplyRequest is what ApplyWith makes the state hold, and what it must
// know to do so safely.
type ApplyRequest struct {
	// Nodes are the names the state must hold, exactly.
	Nodes []string
	// Registered are the names whose machines have registered with Nomad
	// (and are not down): they may run work. A tainted object of such a
	// name is untainted and kept, never replaced, and a plan that would
	// destroy one of them is refused.
	Registered []string
	// Fence, when set, is called after the plan and before Terraform
	// changes anything (an untaint included); when it fails nothing is
	// changed. The autoscaler checks there that it still holds its lock.
	Fence func(context.Context) error
}

// New prepares a workspace; it runs nothing and creates the workdir.
func New(opts Options) (*Workspace, error) {
	if opts.Pool == "" || strings.ContainsAny(opts.Pool, `/\`) || opts.Pool == "." || opts.Pool == ".." {
		return nil, fmt.Errorf("pool name %q cannot name a Terraform workdir; use letters, digits, - and _", opts.Pool)
	}
	if opts.StateDir == "" {
		return nil, errors.New("no Terraform state directory; pass -state-dir")
	}
	if opts.Module == "" {
		return nil, fmt.Errorf("pool %q has no terraform module; add terraform { module = \"...\" } to the pool", opts.Pool)
	}
	for name := range opts.Vars {
		if !validVarName(name) {
			return nil, fmt.Errorf("pool %q: %q is not a valid Terraform variable name", opts.Pool, name)
		}
	}
	bin, err := FindBinary(opts.Bin)
	if err != nil && !opts.ReadOnly {
		return nil, fmt.Errorf("pool %q: %w", opts.Pool, err)
	}
	stateDir, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	module, err := filepath.Abs(opts.Module)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(module); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("pool %q: terraform module %s is not a directory; fix terraform.module", opts.Pool, module)
	}
	if opts.Vars, err = moduleInputs(opts.Pool, module, opts.NodePool, opts.Spot, opts.Vars); err != nil {
		return nil, err
	}
	dir := filepath.Join(stateDir, opts.Pool)
	if opts.ReadOnly {
		// nothing to create: a missing workdir reads as an empty state
	} else if err := makePrivateDir(dir); err != nil {
		return nil, fmt.Errorf("pool %q: create Terraform workdir: %w", opts.Pool, err)
	} else if err := tighten(dir); err != nil {
		return nil, fmt.Errorf("pool %q: %w", opts.Pool, err)
	}
	src, err := moduleSource(dir, module)
	if err != nil {
		return nil, err
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 5 * time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, _ := workdirLocks.LoadOrStore(dir, &sync.Mutex{})
	return &Workspace{
		opts: opts, dir: dir, source: src, bin: bin, mu: m.(*sync.Mutex),
		log: log.With("pool", opts.Pool, "workdir", dir),
	}, nil
}

// Dir is the workspace's directory.
func (w *Workspace) Dir() string { return w.dir }

// Pool is the pool the workspace belongs to.
func (w *Workspace) Pool() string { return w.opts.Pool }

// Nodes reads the node names in the state (none for a fresh workdir).
func (w *Workspace) Nodes(ctx context.Context) ([]string, error) {
	st, err := w.State(ctx)
	return st.Nodes, err
}

// State reads the node names in the state and which are tainted (none
// for a fresh workdir).
func (w *Workspace) State(ctx context.Context) (NodeState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := os.Stat(filepath.Join(w.dir, StateFile)); errors.Is(err, os.ErrNotExist) {
		return NodeState{}, nil
	}
	if w.opts.ReadOnly {
		return w.nodesInStateFile()
	}
	defer w.tighten()
	if err := w.ensureInit(ctx); err != nil {
		return NodeState{}, err
	}
	return w.nodes(ctx)
}

func (w *Workspace) nodes(ctx context.Context) (NodeState, error) {
	tf, _, errw, err := w.terraform()
	if err != nil {
		return NodeState{}, err
	}
	tfst, err := tf.Show(ctx)
	errw.Flush()
	if err != nil {
		return NodeState{}, w.fail("show", err, errw)
	}
	st := nodesInState(tfst)
	w.known = &st
	return st, nil
}

// ensureInit writes the root module and runs init unless the same root
// module was initialised before (the marker file holds its hash), so a
// restart does not pay for init again.
func (w *Workspace) ensureInit(ctx context.Context) error {
	root, err := renderRoot(w.source, sortedVarNames(w.opts.Vars))
	if err != nil {
		return fmt.Errorf("pool %q: %w", w.opts.Pool, err)
	}
	sum := sha256.Sum256(append(append([]byte{}, root...), w.bin...))
	key := hex.EncodeToString(sum[:])
	if w.initKey == key {
		return nil
	}
	marker := filepath.Join(w.dir, ".caravan-init")
	old, _ := os.ReadFile(marker)
	rootPath := filepath.Join(w.dir, RootFile)
	cur, _ := os.ReadFile(rootPath)
	if bytes.Equal(bytes.TrimSpace(old), []byte(key)) && bytes.Equal(cur, root) {
		if _, err := os.Stat(filepath.Join(w.dir, ".terraform")); err == nil {
			w.initKey = key
			return nil
		}
	}
	if err := writeFileAtomic(rootPath, root); err != nil {
		return fmt.Errorf("pool %q: write %s: %w", w.opts.Pool, RootFile, err)
	}
	// Variables must exist for init to read the configuration.
	if _, err := os.Stat(filepath.Join(w.dir, VarsFile)); errors.Is(err, os.ErrNotExist) {
		vars, err := renderVars(nil, w.opts.Vars)
		if err != nil {
			return fmt.Errorf("pool %q: %w", w.opts.Pool, err)
		}
		if err := writeFileAtomic(filepath.Join(w.dir, VarsFile), vars); err != nil {
			return err
		}
	}
	tf, out, errw, err := w.terraform()
	if err != nil {
		return err
	}
	err = tf.Init(ctx, tfexec.Upgrade(false), tfexec.Backend(true))
	out.Flush()
	errw.Flush()
	if err != nil {
		return w.fail("init", err, errw)
	}
	if err := os.WriteFile(marker, []byte(key+"\n"), privateFile); err != nil {
		return err
	}
	w.initKey = key
	return nil
}

// tighten makes what the last Terraform run wrote private (see perms.go).
// A failure is logged, not returned: the workdir itself is 0700, so the
// files stay out of other users' reach meanwhile.
func (w *Workspace) tighten() {
	if err := tighten(w.dir); err != nil {
		w.log.Warn("cannot make the Terraform workdir private", "err", err)
	}
}

// terraform returns a terraform-exec handle whose output goes to the log.
func (w *Workspace) terraform() (*tfexec.Terraform, *lineLogger, *lineLogger, error) {
	tf, err := tfexec.NewTerraform(w.dir, w.bin)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pool %q: %w", w.opts.Pool, err)
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for k, v := range w.opts.Env {
		env[k] = v
	}
	// A CLI configuration that does not exist only makes every run warn.
	if f := env["TF_CLI_CONFIG_FILE"]; f != "" {
		if _, err := os.Stat(f); err != nil {
			delete(env, "TF_CLI_CONFIG_FILE")
		}
	}
	// Terraform ignores a plugin cache directory that does not exist.
	if d := env["TF_PLUGIN_CACHE_DIR"]; d != "" {
		_ = os.MkdirAll(d, 0o755)
	}
	// Terraform's update check would call out to HashiCorp on every run.
	env["CHECKPOINT_DISABLE"] = "1"
	for _, k := range tfexec.ProhibitedEnv(env) {
		delete(env, k)
	}
	if err := tf.SetEnv(env); err != nil {
		return nil, nil, nil, err
	}
	// An interrupted Terraform finishes the resource it is creating and
	// saves state; give it time before the hard kill.
	_ = tf.SetWaitDelay(2 * time.Minute)
	out := newLineLogger(w.log, slog.LevelDebug, "stdout")
	errw := newLineLogger(w.log, slog.LevelWarn, "stderr")
	tf.SetStdout(out)
	tf.SetStderr(errw)
	return tf, out, errw, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
