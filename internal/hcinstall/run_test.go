package hcinstall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		product string
		version string
		dir     string
		timeout time.Duration
		url     string
		force   bool
		wantErr string // substring of the error; "" means success
	}{
		{name: "nomad", args: []string{"-product", "nomad", "-version", "2.0.5", "-dir", "bin/"},
			product: "nomad", version: "2.0.5", dir: "bin/", timeout: 5 * time.Minute},
		{name: "terraform with defaults", args: []string{"-product=terraform", "-version=1.5.7"},
			product: "terraform", version: "1.5.7", dir: "bin", timeout: 5 * time.Minute},
		{name: "nvidia device plugin", args: []string{"-product", "nomad-device-nvidia", "-version", "1.1.0", "-dir", "/opt/nomad/plugins"},
			product: "nomad-device-nvidia", version: "1.1.0", dir: "/opt/nomad/plugins", timeout: 5 * time.Minute},
		{name: "v prefix and case", args: []string{"-product", "Nomad", "-version", "v2.0.5"},
			product: "nomad", version: "2.0.5", dir: "bin", timeout: 5 * time.Minute},
		{name: "prerelease", args: []string{"-product", "nomad", "-version", "2.1.0-beta.1"},
			product: "nomad", version: "2.1.0-beta.1", dir: "bin", timeout: 5 * time.Minute},
		{name: "mirror, timeout, force", args: []string{"-product", "nomad", "-version", "2.0.5", "-releases-url", "https://mirror.example/hashicorp/", "-timeout", "30s", "-force"},
			product: "nomad", version: "2.0.5", dir: "bin", timeout: 30 * time.Second, url: "https://mirror.example/hashicorp", force: true},

		{name: "no product", args: []string{"-version", "2.0.5"}, wantErr: "-product is required: give one of nomad, nomad-device-nvidia, terraform"},
		{name: "unknown product", args: []string{"-product", "vault", "-version", "1.0.0"}, wantErr: `-product "vault" is not supported: give one of nomad, nomad-device-nvidia, terraform`},
		{name: "no version", args: []string{"-product", "nomad"}, wantErr: "-version is required: give an exact release such as 2.0.5 (see https://releases.hashicorp.com/nomad/)"},
		{name: "latest is not a version", args: []string{"-product", "terraform", "-version", "latest"}, wantErr: `-version "latest" is not a release version`},
		{name: "range is not a version", args: []string{"-product", "nomad", "-version", ">= 2.0"}, wantErr: `-version ">= 2.0" is not a release version`},
		{name: "empty dir", args: []string{"-product", "nomad", "-version", "2.0.5", "-dir", " "}, wantErr: "-dir is empty"},
		{name: "zero timeout", args: []string{"-product", "nomad", "-version", "2.0.5", "-timeout", "0s"}, wantErr: "-timeout 0s must be positive"},
		{name: "mirror without scheme", args: []string{"-product", "nomad", "-version", "2.0.5", "-releases-url", "mirror.example"}, wantErr: `-releases-url "mirror.example" must start with http:// or https://`},
		{name: "positional", args: []string{"-product", "nomad", "-version", "2.0.5", "extra"}, wantErr: `unexpected argument "extra"`},
		{name: "unknown flag", args: []string{"-produkt", "nomad"}, wantErr: "flag provided but not defined: -produkt"},
		{name: "bad duration", args: []string{"-product", "nomad", "-version", "2.0.5", "-timeout", "soon"}, wantErr: "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, err := parseArgs(tt.args, &stderr)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("parseArgs(%q) = nil error, want one containing %q", tt.args, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseArgs(%q) error = %q, want it to contain %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tt.args, err)
			}
			if o.product.Name != tt.product || o.version.String() != tt.version || o.dir != tt.dir ||
				o.timeout != tt.timeout || o.releasesURL != tt.url || o.force != tt.force {
				t.Errorf("parseArgs(%q) = {%s %s %s %v %q %v}, want {%s %s %s %v %q %v}", tt.args,
					o.product.Name, o.version, o.dir, o.timeout, o.releasesURL, o.force,
					tt.product, tt.version, tt.dir, tt.timeout, tt.url, tt.force)
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		code      int
		stdout    string
		stderrHas []string
		stderrNot []string
	}{
		{name: "help", args: []string{"-h"}, code: exitOK, stderrHas: []string{"Usage: go run ./cmd/hcinstall", "-product"}},
		{name: "missing version", args: []string{"-product", "nomad"}, code: exitUsage,
			stderrHas: []string{"hcinstall: -version is required"}, stderrNot: []string{"Usage:"}},
		// The flag package prints its own error and the usage; run must not
		// print it a second time.
		{name: "flag syntax", args: []string{"-bogus"}, code: exitUsage,
			stderrHas: []string{"flag provided but not defined: -bogus", "Usage:"}, stderrNot: []string{"hcinstall: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr, installer{})
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if stdout.String() != tt.stdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.stdout)
			}
			for _, s := range tt.stderrHas {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			for _, s := range tt.stderrNot {
				if strings.Contains(stderr.String(), s) {
					t.Errorf("stderr has %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}

func TestDownloadError(t *testing.T) {
	base := errors.New("Get \"https://releases.hashicorp.com/nomad/2.0.5/index.json\": dial tcp: lookup releases.hashicorp.com: no such host")
	tests := []struct {
		name string
		url  string
		err  error
		want string
	}{
		{
			name: "offline",
			err:  base,
			want: "cannot download nomad 2.0.5 from https://releases.hashicorp.com: " + base.Error() +
				"; check that https://releases.hashicorp.com/nomad/2.0.5/ exists and that this machine can reach it (HTTPS_PROXY is honoured), or point -releases-url at a mirror;" +
				" on an offline machine install it by hand and put it on PATH",
		},
		{
			name: "mirror",
			url:  "https://mirror.example/hc",
			err:  errors.New("failed to obtain product version: 404 Not Found"),
			want: "cannot download nomad 2.0.5 from https://mirror.example/hc: failed to obtain product version: 404 Not Found" +
				"; check that https://mirror.example/hc/nomad/2.0.5/ exists",
		},
		{
			name: "timeout",
			err:  fmt.Errorf("get index: %w", context.DeadlineExceeded),
			want: "; gave up after -timeout 5m0s; raise -timeout on a slow link, or check that",
		},
		{
			name: "interrupted",
			err:  fmt.Errorf("get index: %w", context.Canceled),
			want: "get index: context canceled; interrupted; run the same command again",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := downloadError("nomad", "2.0.5", tt.url, 5*time.Minute, tt.err)
			if !strings.Contains(got.Error(), tt.want) {
				t.Errorf("downloadError =\n  %s\nwant it to contain\n  %s", got, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("downloadError does not wrap the cause %v", tt.err)
			}
		})
	}
}

// TestRunUnreachable drives the real hc-install client at a closed loopback
// port: the download fails at once and the message carries the hint.
func TestRunUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(),
		[]string{"-product", "terraform", "-version", "1.5.7", "-dir", dir, "-releases-url", "http://" + addr},
		&stdout, &stderr, installer{httpClient: noRetryClient()})
	if code != exitError {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitError, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing: a script capturing the path must not get an error", stdout.String())
	}
	for _, s := range []string{
		"hcinstall: cannot download terraform 1.5.7 from http://" + addr + ": ",
		"connection refused",
		"on an offline machine install it by hand and put it on PATH",
	} {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
		}
	}
	assertOnlyFiles(t, dir) // no temp dir left behind
}
