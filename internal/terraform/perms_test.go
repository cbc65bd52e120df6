package terraform

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
)

// TestWorkspacePrivate: after an apply, the state directory caravan
// created, the pool's workdir and everything Terraform wrote in it
// (terraform.tfstate above all, which holds the pool's vars) are private
// to the user: directories 0700, files without group or other bits. A
// workdir left 0755 by an older caravan is closed when it is opened.
func TestWorkspacePrivate(t *testing.T) {
	needTerraform(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	// An older caravan's workdir, open to everyone.
	old := filepath.Join(stateDir, "gpu")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "terraform.tfstate.backup"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := newTestWorkspace(t, stateDir, nil, &syncbuf.Buffer{})
	if _, err := w.Apply(context.Background(), []string{"gpu-0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(w.Dir(), StateFile)); err != nil {
		t.Fatalf("no state written: %v", err)
	}
	checkPrivate(t, w.Dir())

	// A fresh state directory is created private, parents included.
	fresh := filepath.Join(t.TempDir(), "a", "b")
	w2 := newTestWorkspace(t, fresh, nil, &syncbuf.Buffer{})
	if _, err := w2.Nodes(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(fresh), fresh, w2.Dir()} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != privateDir {
			t.Errorf("%s: mode %v, err %v; want %v", d, fi.Mode().Perm(), err, privateDir)
		}
	}
}

// checkPrivate fails for any directory under root that is not 0700 and any
// file with group or other bits.
func checkPrivate(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := fi.Mode().Perm(); {
		case d.IsDir() && mode != privateDir:
			t.Errorf("directory %s has mode %v; want %v", path, mode, privateDir)
		case !d.IsDir() && mode&0o077 != 0:
			t.Errorf("file %s has mode %v; want no group or other bits (0600)", path, mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
