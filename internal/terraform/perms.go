package terraform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// A pool's workdir holds what caravan.auto.tfvars.json holds (the pool's
// vars, which may carry credentials or network layout) in every copy
// Terraform makes of it: the state, its backup, the saved plan and
// .terraform/ (backend settings). So the workdir and everything in it are
// private to the user running the autoscaler: directories 0700, files
// without group or other bits.
const (
	privateDir  fs.FileMode = 0o700
	privateFile fs.FileMode = 0o600
)

// makePrivateDir creates dir (and missing parents, each 0700) and sets dir
// itself to 0700, so that a workdir created by an older caravan with 0755
// is closed too. Existing parents keep their mode: the state directory may
// be a shared mount whose mode is not caravan's to change.
func makePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, privateDir); err != nil {
		return err
	}
	return os.Chmod(dir, privateDir)
}

// tighten removes group and other bits from everything under dir that
// Terraform wrote with its own umask (terraform.tfstate is created 0644).
// Symbolic links are not followed: .terraform/providers may link into a
// plugin cache shared with other tools.
func tighten(dir string) error {
	var errs []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking (a plan file, a lock)
			}
			errs = append(errs, err)
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		mode := info.Mode().Perm()
		if mode&0o077 == 0 {
			return nil
		}
		if err := os.Chmod(path, mode&^0o077); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("make the Terraform workdir %s private: %w", dir, errors.Join(errs...))
	}
	return nil
}
