package hcinstall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/hc-install/releases"
)

// installer downloads with hc-install. Its zero value is what main uses:
// hc-install's retrying HTTP client (which honours HTTPS_PROXY) and
// HashiCorp's built-in signing key. Tests set both to serve a fake release
// site on loopback with a key of their own.
type installer struct {
	httpClient *http.Client
	publicKey  string // ASCII-armored PGP key; empty: HashiCorp's
}

// install puts opts.product at opts.version into opts.dir and returns the
// binary's absolute path. A binary of that version already there is kept
// (re-running a setup script costs nothing; products without a version
// command are always downloaded); any other is replaced by a rename, so a
// running nomad keeps its old inode and a failed download leaves the old
// binary untouched.
func (in installer) install(ctx context.Context, opts options, log io.Writer) (string, error) {
	name := opts.product.Name
	if err := os.MkdirAll(opts.dir, 0o755); err != nil {
		return "", fmt.Errorf("cannot create %s for %s: %w; choose a -dir you can write to", opts.dir, name, err)
	}
	target, err := filepath.Abs(filepath.Join(opts.dir, opts.product.BinaryName()))
	if err != nil {
		return "", fmt.Errorf("cannot resolve -dir %s: %w", opts.dir, err)
	}
	canCheck := opts.product.GetVersion != nil
	if !opts.force && canCheck {
		if _, err := os.Stat(target); err == nil {
			have, verr := opts.product.GetVersion(ctx, target)
			switch {
			case verr == nil && have.Equal(opts.version):
				fmt.Fprintf(log, "%s %s is already installed at %s\n", name, opts.version, target)
				return target, nil
			case verr == nil:
				fmt.Fprintf(log, "replacing %s %s at %s with %s\n", name, have, target, opts.version)
			default:
				fmt.Fprintf(log, "replacing %s at %s (its version is unreadable: %v)\n", name, target, verr)
			}
		}
	}

	// Unpack next to the target (same file system, so the rename is atomic)
	// and move only the binary: the release zip also carries licence files
	// that do not belong in a bin directory.
	tmp, err := os.MkdirTemp(opts.dir, ".hcinstall-*")
	if err != nil {
		return "", fmt.Errorf("cannot write to %s for %s: %w; choose a -dir you can write to", opts.dir, name, err)
	}
	defer os.RemoveAll(tmp)

	ev := &releases.ExactVersion{
		Product:          opts.product,
		Version:          opts.version,
		InstallDir:       tmp,
		Timeout:          opts.timeout,
		ApiBaseURL:       opts.releasesURL,
		HTTPClient:       in.httpClient,
		ArmoredPublicKey: in.publicKey,
	}
	got, err := ev.Install(ctx)
	if err != nil {
		if _, serr := os.Stat(filepath.Join(tmp, opts.product.BinaryName())); errors.Is(err, fs.ErrNotExist) && errors.Is(serr, fs.ErrNotExist) {
			// hc-install v0.10.0 loses the errors of its verify-and-unpack
			// step (a deferred cleanup overwrites them) and fails later on
			// the absent binary; say what that absence means.
			err = fmt.Errorf("the release archive failed verification or unpacking (a checksum or size mismatch, or a broken archive; hc-install reports it only as a missing file): %w", err)
		}
		return "", downloadError(name, opts.version.String(), opts.releasesURL, opts.timeout, err)
	}
	// For the same reason a truncated unpack can look like success: run the
	// new binary and check its version before it replaces anything.
	if canCheck {
		have, err := opts.product.GetVersion(ctx, got)
		if err != nil {
			return "", fmt.Errorf("downloaded %s %s does not run here (%w); nothing was replaced: retry, or install it by hand and put it on PATH", name, opts.version, err)
		}
		if !have.Equal(opts.version) {
			return "", fmt.Errorf("downloaded %s %s reports version %s; nothing was replaced: check the mirror given to -releases-url", name, opts.version, have)
		}
	}
	// hc-install leaves the binary 0700; a shared bin directory needs 0755.
	if err := os.Chmod(got, 0o755); err != nil {
		return "", fmt.Errorf("cannot make %s executable: %w", got, err)
	}
	if err := os.Rename(got, target); err != nil {
		return "", fmt.Errorf("cannot move %s %s into place at %s: %w", name, opts.version, target, err)
	}
	return target, nil
}

// downloadError says what failed and what the operator can do: check the
// version, retry with a longer timeout, use a mirror, or install by hand on
// a machine that cannot reach the release site.
func downloadError(product, version, releasesURL string, timeout time.Duration, err error) error {
	site := releasesURL
	if site == "" {
		site = defaultReleasesURL
	}
	hint := fmt.Sprintf("check that %s/%s/%s/ exists and that this machine can reach it (HTTPS_PROXY is honoured), or point -releases-url at a mirror; "+
		"on an offline machine install it by hand and put it on PATH", site, product, version)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		hint = fmt.Sprintf("gave up after -timeout %s; raise -timeout on a slow link, or %s", timeout, hint)
	case errors.Is(err, context.Canceled):
		hint = "interrupted; run the same command again"
	}
	return fmt.Errorf("cannot download %s %s from %s: %w; %s", product, version, site, err, hint)
}
