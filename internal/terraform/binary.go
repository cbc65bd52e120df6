package terraform

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// FindBinary resolves the terraform executable: bin when set (a path, or a
// name looked up on PATH), else "terraform" on PATH.
func FindBinary(bin string) (string, error) {
	name := bin
	if name == "" {
		name = "terraform"
	}
	if strings.ContainsRune(name, filepath.Separator) {
		abs, err := filepath.Abs(name)
		if err != nil {
			return "", err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return "", fmt.Errorf("terraform_bin %s: %w; point terraform_bin at an installed terraform (see terraform/README.md)", abs, err)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("terraform_bin %s is not an executable file; point it at the terraform binary", abs)
		}
		return abs, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("%s not found on PATH; install Terraform >= 1.4 (terraform/README.md shows a pinned install) or set terraform_bin in the pool's terraform block", name)
		}
		return "", fmt.Errorf("find %s: %w", name, err)
	}
	return p, nil
}
