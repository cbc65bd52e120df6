package registry

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry is go-containerregistry's in-process registry with one
// image pushed as repo:tag; it returns the registry's host and the
// image's digest.
func testRegistry(t *testing.T, repo, tag string) (host, digest string) {
	t.Helper()
	srv := httptest.NewServer(ggcr.New())
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	return host, push(t, host, repo, tag)
}

func push(t *testing.T, host, repo, tag string) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func resolver() *Resolver { return &Resolver{Keychain: authn.NewMultiKeychain()} }

func TestDigestOfTag(t *testing.T) {
	host, want := testRegistry(t, "acme/train", "1.4")
	r := resolver()
	got, err := r.Digest(context.Background(), host+"/acme/train:1.4")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("digest %s, want %s", got, want)
	}
	// The tag moves: the same reference resolves to the new image.
	moved := push(t, host, "acme/train", "1.4")
	if got, _ := r.Digest(context.Background(), host+"/acme/train:1.4"); got != moved || got == want {
		t.Errorf("after the tag moved: %s, want %s", got, moved)
	}
	// A digest reference resolves to itself.
	if got, err := r.Digest(context.Background(), host+"/acme/train@"+want); err != nil || got != want {
		t.Errorf("digest reference: %s %v", got, err)
	}
}

func TestDigestErrorsNameImageAndRegistry(t *testing.T) {
	host, _ := testRegistry(t, "acme/train", "1.4")
	srv := httptest.NewServer(ggcr.New())
	dead := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	for _, tc := range []struct {
		image, registry, hint string
	}{
		{host + "/acme/train:2.0", host, "no such image or tag"},
		{host + "/acme/eval:1.4", host, "no such image or tag"},
		{dead + "/acme/train:1.4", dead, "reachable"},
	} {
		_, err := resolver().Digest(context.Background(), tc.image)
		var re *Error
		if !errors.As(err, &re) || re.Registry != tc.registry || re.Image != tc.image {
			t.Fatalf("%s: %v", tc.image, err)
		}
		msg := err.Error()
		for _, w := range []string{tc.image, "registry " + tc.registry, tc.hint, "allow-mutable"} {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q lacks %q", tc.image, msg, w)
			}
		}
	}
}

func TestDigestsAllOrNothing(t *testing.T) {
	host, d := testRegistry(t, "acme/train", "1.4")
	r := resolver()
	got, err := r.Digests(context.Background(), []string{host + "/acme/train:1.4", host + "/acme/train:1.4"})
	if err != nil || len(got) != 1 || got[host+"/acme/train:1.4"] != d {
		t.Fatalf("%v %v", got, err)
	}
	got, err = r.Digests(context.Background(), []string{host + "/acme/train:1.4", host + "/acme/train:nope"})
	if err == nil || got != nil || !strings.Contains(err.Error(), "acme/train:nope") {
		t.Errorf("one missing tag: %v %v", got, err)
	}
}
