package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// DefaultTimeout bounds one lookup: a registry answers a manifest HEAD in
// well under a second; the rest is room for a token exchange.
const DefaultTimeout = 20 * time.Second

// Resolver looks image tags up in their registries.
type Resolver struct {
	// Timeout bounds each lookup (0: DefaultTimeout).
	Timeout time.Duration
	// Keychain gives credentials per registry; nil means the Docker
	// configuration of the user (authn.DefaultKeychain).
	Keychain authn.Keychain
	// Transport, when set, carries the requests (tests).
	Transport http.RoundTripper
	// Parallelism bounds concurrent lookups in Digests (0: 8).
	Parallelism int
}

// Error is a lookup that failed: it names the image and its registry.
type Error struct {
	Image    string
	Registry string
	Err      error
}

func (e *Error) Error() string {
	hint := "check that " + e.Registry + " is reachable from here and that this machine may pull from it (docker login " + e.Registry + ")"
	var te *transport.Error
	switch {
	case errors.As(e.Err, &te) && (te.StatusCode == http.StatusNotFound || hasCode(te, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode)):
		hint = "the registry has no such image or tag: push it, or fix the image in the experiment"
	case errors.As(e.Err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden):
		hint = "the registry refused the credentials of this machine: docker login " + e.Registry + ", or give the CI job pull access"
	}
	return fmt.Sprintf("resolve image %s in registry %s: %v; %s, or set image_pinning = \"allow-mutable\" to submit the tag unpinned", e.Image, e.Registry, e.Err, hint)
}

func (e *Error) Unwrap() error { return e.Err }

func hasCode(te *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range te.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}

// Digest is the digest ("sha256:…") the registry serves for image now: for
// a tag, the manifest (or image index, for multi-platform images) it
// names; for a digest reference, that digest, checked to exist.
func (r *Resolver) Digest(ctx context.Context, image string) (string, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return "", &Error{Image: image, Registry: "?", Err: fmt.Errorf("not an image reference: %w", err)}
	}
	reg := ref.Context().RegistryStr()
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	kc := r.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	if r.Transport != nil {
		opts = append(opts, remote.WithTransport(r.Transport))
	}
	desc, err := remote.Head(ref, opts...)
	if err != nil && !isUnreachable(err) {
		// Some registries do not answer HEAD for manifests; GET does.
		if d, gerr := remote.Get(ref, opts...); gerr == nil {
			return d.Digest.String(), nil
		}
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("no answer within %s: %w", timeout, err)
		}
		return "", &Error{Image: image, Registry: reg, Err: err}
	}
	return desc.Digest.String(), nil
}

func isUnreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// Digests resolves every image of images, each once, a few at a time, and
// returns image → digest. It fails as a whole when any lookup fails (the
// first error by image order), so a caller never uses half of them.
func (r *Resolver) Digests(ctx context.Context, images []string) (map[string]string, error) {
	par := r.Parallelism
	if par <= 0 {
		par = 8
	}
	out := make(map[string]string, len(images))
	errs := make(map[string]error)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, par)
	seen := map[string]bool{}
	var order []string
	for _, img := range images {
		if seen[img] {
			continue
		}
		seen[img] = true
		order = append(order, img)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d, err := r.Digest(ctx, img)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[img] = err
			} else {
				out[img] = d
			}
		})
	}
	wg.Wait()
	for _, img := range order {
		if err := errs[img]; err != nil {
			return nil, err
		}
	}
	return out, nil
}
