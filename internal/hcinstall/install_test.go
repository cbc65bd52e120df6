package hcinstall

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// fakeSite is a release site laid out like releases.hashicorp.com for one
// product version, signed with a key made for the test, so the whole
// download → verify → unpack → move path runs without the internet.
type fakeSite struct {
	srv       *httptest.Server
	publicKey string
	requests  []string
}

// siteOpts describe what a fakeSite serves.
type siteOpts struct {
	product, title, ver string
	// script is the binary's text; default: a shell script printing
	// "<title> v<ver>" (what `nomad version` and `terraform version` print).
	script string
	// tamper serves an archive other than the one whose checksum is signed.
	tamper bool
}

// newFakeSite serves one release of o.product.
func newFakeSite(t *testing.T, o siteOpts) *fakeSite {
	t.Helper()
	product, ver := o.product, o.ver
	if o.script == "" {
		o.script = fmt.Sprintf("#!/bin/sh\necho '%s v%s'\n", o.title, ver)
	}
	entity, err := openpgp.NewEntity("test releases", "", "releases@example.test", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := entity.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()

	zipName := fmt.Sprintf("%s_%s_%s_%s.zip", product, ver, runtime.GOOS, runtime.GOARCH)
	archive := zipOf(t, map[string]string{
		product:       o.script,
		"LICENSE.txt": "test licence\n",
	})
	sum := sha256.Sum256(archive)
	sums := fmt.Sprintf("%s  %s\n", hex.EncodeToString(sum[:]), zipName)
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, entity, strings.NewReader(sums), nil); err != nil {
		t.Fatal(err)
	}
	if o.tamper {
		archive = zipOf(t, map[string]string{product: "#!/bin/sh\necho pwned\n"})
	}
	index, err := json.Marshal(map[string]any{
		"name":              product,
		"version":           ver,
		"shasums":           fmt.Sprintf("%s_%s_SHA256SUMS", product, ver),
		"shasums_signature": fmt.Sprintf("%s_%s_SHA256SUMS.sig", product, ver),
		"builds": []map[string]string{{
			"name": product, "version": ver, "os": runtime.GOOS, "arch": runtime.GOARCH,
			"filename": zipName,
			"url":      fmt.Sprintf("https://releases.hashicorp.com/%s/%s/%s", product, ver, zipName),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}

	s := &fakeSite{publicKey: pub.String()}
	prefix := "/" + product + "/" + ver + "/"
	files := map[string]struct {
		ctype string
		body  []byte
	}{
		prefix + "index.json": {"application/json", index},
		prefix + fmt.Sprintf("%s_%s_SHA256SUMS", product, ver):     {"text/plain", []byte(sums)},
		prefix + fmt.Sprintf("%s_%s_SHA256SUMS.sig", product, ver): {"application/octet-stream", sig.Bytes()},
		prefix + zipName: {"application/zip", archive},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s.requests = append(s.requests, r.URL.Path)
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", f.ctype)
		rw.Write(f.body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// noRetryClient fails at once where hc-install's default client would
// retry with back-off for several seconds.
func noRetryClient() *http.Client { return &http.Client{} }

// assertOnlyFiles checks dir holds exactly names (no licence files, no
// leftover temporary directories).
func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	sort.Strings(names)
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func skipWithoutShell(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake binaries are shell scripts")
	}
}

func TestInstallFromSite(t *testing.T) {
	skipWithoutShell(t)
	tests := []struct {
		product, title, ver string
	}{
		{"nomad", "Nomad", "2.0.5"},
		{"terraform", "Terraform", "1.5.7"},
	}
	for _, tt := range tests {
		t.Run(tt.product, func(t *testing.T) {
			site := newFakeSite(t, siteOpts{product: tt.product, title: tt.title, ver: tt.ver})
			dir := filepath.Join(t.TempDir(), "nested", "bin") // created on demand
			var stdout, stderr bytes.Buffer
			code := run(context.Background(),
				[]string{"-product", tt.product, "-version", tt.ver, "-dir", dir, "-releases-url", site.srv.URL},
				&stdout, &stderr, installer{httpClient: noRetryClient(), publicKey: site.publicKey})
			if code != exitOK {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
			}
			want := filepath.Join(dir, tt.product)
			if got := strings.TrimSpace(stdout.String()); got != want {
				t.Errorf("printed %q, want the installed path %q", got, want)
			}
			st, err := os.Stat(want)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o755 {
				t.Errorf("mode %v, want 0755 so every user of a shared bin directory can run it", st.Mode().Perm())
			}
			assertOnlyFiles(t, dir, tt.product)
		})
	}
}

// A second run finds the right version in place and downloads nothing; a
// different pinned version replaces it.
func TestInstallKeepsOrReplaces(t *testing.T) {
	skipWithoutShell(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "nomad")
	if err := os.WriteFile(target, []byte("#!/bin/sh\necho 'Nomad v2.0.5'\necho 'BuildDate 2026-01-01'\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		ver       string
		force     bool
		downloads bool
		stderrHas string
	}{
		{name: "same version kept", ver: "2.0.5", stderrHas: "nomad 2.0.5 is already installed at " + target},
		{name: "force downloads", ver: "2.0.5", force: true, downloads: true},
		{name: "other version replaces", ver: "2.0.6", downloads: true, stderrHas: "replacing nomad 2.0.5 at " + target + " with 2.0.6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site := newFakeSite(t, siteOpts{product: "nomad", title: "Nomad", ver: tt.ver})
			args := []string{"-product", "nomad", "-version", tt.ver, "-dir", dir, "-releases-url", site.srv.URL}
			if tt.force {
				args = append(args, "-force")
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr,
				installer{httpClient: noRetryClient(), publicKey: site.publicKey})
			if code != exitOK {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
			}
			if strings.TrimSpace(stdout.String()) != target {
				t.Errorf("printed %q, want %q", stdout.String(), target)
			}
			if got := len(site.requests) > 0; got != tt.downloads {
				t.Errorf("downloaded = %v (requests %q), want %v", got, site.requests, tt.downloads)
			}
			if !strings.Contains(stderr.String(), tt.stderrHas) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderrHas, stderr.String())
			}
			out, err := versionOutput(target)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out, "Nomad v"+tt.ver) {
				t.Errorf("installed binary says %q, want Nomad v%s", out, tt.ver)
			}
		})
	}
}

// A failed download (unknown version, tampered archive, a binary that is
// not what was asked for) says why, exits 1 and leaves the binary that was
// there untouched.
func TestInstallFailureKeepsOldBinary(t *testing.T) {
	skipWithoutShell(t)
	tests := []struct {
		name   string
		ver    string // requested
		serve  string // served by the site
		script string
		tamper bool
		errHas []string
	}{
		{name: "unknown version", ver: "9.9.9", serve: "2.0.5",
			errHas: []string{"cannot download nomad 9.9.9 from http://", "/nomad/9.9.9/index.json", "404 Not Found", "install it by hand and put it on PATH"}},
		{name: "tampered archive", ver: "2.0.6", serve: "2.0.6", tamper: true,
			errHas: []string{"cannot download nomad 2.0.6 from http://", "failed verification or unpacking", "install it by hand and put it on PATH"}},
		{name: "binary reports another version", ver: "2.0.6", serve: "2.0.6", script: "#!/bin/sh\necho 'Nomad v2.0.4'\n",
			errHas: []string{"downloaded nomad 2.0.6 reports version 2.0.4; nothing was replaced"}},
		{name: "binary does not run", ver: "2.0.6", serve: "2.0.6", script: "#!/bin/sh\nexit 126\n",
			errHas: []string{"downloaded nomad 2.0.6 does not run here", "nothing was replaced"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site := newFakeSite(t, siteOpts{product: "nomad", title: "Nomad", ver: tt.serve, script: tt.script, tamper: tt.tamper})
			dir := t.TempDir()
			old := []byte("#!/bin/sh\necho 'Nomad v2.0.4'\n")
			if err := os.WriteFile(filepath.Join(dir, "nomad"), old, 0o755); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(),
				[]string{"-product", "nomad", "-version", tt.ver, "-dir", dir, "-releases-url", site.srv.URL},
				&stdout, &stderr, installer{httpClient: noRetryClient(), publicKey: site.publicKey})
			if code != exitError {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitError, stderr.String())
			}
			for _, s := range tt.errHas {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			got, err := os.ReadFile(filepath.Join(dir, "nomad"))
			if err != nil || !bytes.Equal(got, old) {
				t.Errorf("old binary changed (err %v):\n%s", err, got)
			}
			assertOnlyFiles(t, dir, "nomad")
		})
	}
}

// A signature by a key other than the one trusted is refused.
func TestInstallWrongKey(t *testing.T) {
	skipWithoutShell(t)
	site := newFakeSite(t, siteOpts{product: "nomad", title: "Nomad", ver: "2.0.5"})
	other := newFakeSite(t, siteOpts{product: "nomad", title: "Nomad", ver: "2.0.5"})
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(),
		[]string{"-product", "nomad", "-version", "2.0.5", "-dir", dir, "-releases-url", site.srv.URL},
		&stdout, &stderr, installer{httpClient: noRetryClient(), publicKey: other.publicKey})
	if code != exitError {
		t.Fatalf("exit code %d, want %d", code, exitError)
	}
	if !strings.Contains(stderr.String(), "unable to verify checksums signature") {
		t.Errorf("stderr lacks the signature failure:\n%s", stderr.String())
	}
	assertOnlyFiles(t, dir)
}

// versionOutput runs `path version`, as an operator would to check.
func versionOutput(path string) (string, error) {
	out, err := exec.Command(path, "version").Output()
	return string(out), err
}

// The device plugin has no version command: every run downloads (and
// verifies) it, and a plugin binary that would fail `version` is fine.
func TestInstallDevicePlugin(t *testing.T) {
	skipWithoutShell(t)
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		site := newFakeSite(t, siteOpts{product: "nomad-device-nvidia", ver: "1.1.0",
			script: "#!/bin/sh\necho 'This binary is a plugin.' >&2\nexit 1\n"})
		var stdout, stderr bytes.Buffer
		code := run(context.Background(),
			[]string{"-product", "nomad-device-nvidia", "-version", "1.1.0", "-dir", dir, "-releases-url", site.srv.URL},
			&stdout, &stderr, installer{httpClient: noRetryClient(), publicKey: site.publicKey})
		if code != exitOK {
			t.Fatalf("run %d: exit code %d; stderr:\n%s", i, code, stderr.String())
		}
		if want := filepath.Join(dir, "nomad-device-nvidia"); strings.TrimSpace(stdout.String()) != want {
			t.Errorf("run %d: printed %q, want %q", i, stdout.String(), want)
		}
		if len(site.requests) == 0 {
			t.Errorf("run %d: nothing downloaded; a plugin's version cannot be read, so it is always fetched", i)
		}
		assertOnlyFiles(t, dir, "nomad-device-nvidia")
	}
}
