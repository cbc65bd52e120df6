package nomad_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
)

func TestErrorsReadAsSentences(t *testing.T) {
	ctx := context.Background()
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := "http://" + l.Addr().String()
	l.Close()

	tests := []struct {
		name  string
		setup func(srv *nomadtest.Server)
		addr  string
		ns    string
		flag  string // Config.AddressFlag
		call  func(c *nomad.Client) error
		kind  error
		want  []string
	}{
		{
			name: "unreachable", addr: deadAddr,
			call: func(c *nomad.Client) error { _, err := c.Jobs(ctx, ""); return err },
			kind: nomad.ErrUnreachable,
			want: []string{"cannot reach Nomad at " + deadAddr + ": connection refused", "set NOMAD_ADDR or -address)"},
		},
		{
			// The agent's flag is -nomad-addr: the hint names the flag the
			// command really has.
			name: "unreachable, another flag", addr: deadAddr, flag: "-nomad-addr",
			call: func(c *nomad.Client) error { _, err := c.Jobs(ctx, ""); return err },
			kind: nomad.ErrUnreachable,
			want: []string{"set NOMAD_ADDR or -nomad-addr)"},
		},
		{
			name:  "slow",
			setup: func(srv *nomadtest.Server) { srv.Delay("/v1/jobs", time.Minute) },
			call:  func(c *nomad.Client) error { _, err := c.Jobs(ctx, ""); return err },
			kind:  nomad.ErrTimeout,
			want:  []string{"did not answer within 200ms"},
		},
		{
			name:  "500",
			setup: func(srv *nomadtest.Server) { srv.FailNext(1, "/v1/job/", 500, "rpc error: No cluster leader") },
			call:  func(c *nomad.Client) error { _, err := c.Job(ctx, "", "x"); return err },
			kind:  nomad.ErrServer,
			want:  []string{"Nomad returned an internal error: rpc error: No cluster leader"},
		},
		{
			name:  "403",
			setup: func(srv *nomadtest.Server) { srv.Deny("/v1/jobs") },
			call: func(c *nomad.Client) error {
				_, err := c.RegisterJob(ctx, gpuJob("a", "default", 0), false, 0)
				return err
			},
			kind: nomad.ErrPermission,
			want: []string{"permission denied by Nomad ACLs", "submit-job", "set NOMAD_TOKEN or -token"},
		},
		{
			// Nomad 2.0.5's answer (a 500) to a driver the namespace's
			// capabilities do not enable.
			name: "driver not enabled in the namespace",
			setup: func(srv *nomadtest.Server) {
				srv.FailNext(1, "/v1/jobs", 500, "1 error occurred:\n\t* used task driver \"raw_exec\" is not allowed in namespace \"ml\"\n\n")
			},
			call: func(c *nomad.Client) error {
				_, err := c.RegisterJob(ctx, gpuJob("a", "default", 0), false, 0)
				return err
			},
			kind: nomad.ErrPermission,
			want: []string{`task driver "raw_exec" is not allowed in namespace "ml"`, "nomad namespace status", "not a failure to retry"},
		},
		{
			name: "404",
			call: func(c *nomad.Client) error { _, err := c.Job(ctx, "", "nope"); return err },
			kind: nomad.ErrNotFound,
			want: []string{`job "nope" not found in namespace "default"`},
		},
		{
			// Nomad answers a write to an unknown node with a 500.
			name: "node gone",
			call: func(c *nomad.Client) error {
				return c.SetEligibility(ctx, "00000000-0000-4000-8000-000000000000", false)
			},
			kind: nomad.ErrNotFound,
			want: []string{`node "00000000-0000-4000-8000-000000000000" not found`},
		},
		{
			name: "unknown namespace", ns: "typo",
			call: func(c *nomad.Client) error {
				_, err := c.RegisterJob(ctx, gpuJob("a", "default", 0), false, 0)
				return err
			},
			kind: nomad.ErrNamespace,
			want: []string{`namespace "typo" does not exist`, "-namespace"},
		},
		{
			name: "cas conflict",
			setup: func(srv *nomadtest.Server) {
				srv.SetVariable("default", "caravan/runs/x", map[string]string{"a": "b"})
			},
			call: func(c *nomad.Client) error {
				_, err := c.PutVariable(ctx, "", "caravan/runs/x", map[string]string{"a": "c"}, 0)
				return err
			},
			kind: nomad.ErrConflict,
			want: []string{`"caravan/runs/x": it already exists`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := nomadtest.New(t)
			if tt.setup != nil {
				tt.setup(srv)
			}
			addr := tt.addr
			if addr == "" {
				addr = srv.URL()
			}
			c, err := nomad.New(nomad.Config{Address: addr, AddressFlag: tt.flag, Namespace: tt.ns, Timeout: 200 * time.Millisecond, Getenv: func(string) string { return "" }})
			if err != nil {
				t.Fatal(err)
			}
			err = tt.call(c)
			t.Logf("%v", err)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("error %v is not %v", err, tt.kind)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "Unexpected response code") {
				t.Errorf("error leaks the api package's wording: %q", err)
			}
		})
	}
}

func TestCanceledIsNotATimeout(t *testing.T) {
	srv := nomadtest.New(t)
	srv.Delay("/v1/jobs", time.Minute)
	c := newClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Jobs(ctx, "")
	if err == nil || errors.Is(err, nomad.ErrTimeout) || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("got %v", err)
	}
}

func TestTLSMismatchesReadAsSentences(t *testing.T) {
	srv := nomadtest.New(t)
	tlsSrv := httptest.NewTLSServer(srv.Handler())
	defer tlsSrv.Close()
	ctx := context.Background()
	for name, tc := range map[string]struct{ addr, want string }{
		"https to a plain server": {strings.Replace(srv.URL(), "http://", "https://", 1), "use http://"},
		"unknown CA":              {tlsSrv.URL, "unknown authority"},
		"http to a TLS server":    {strings.Replace(tlsSrv.URL, "https://", "http://", 1), "use https://"},
	} {
		c, err := nomad.New(nomad.Config{Address: tc.addr, Timeout: 2 * time.Second, Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Jobs(ctx, "")
		t.Logf("%s: %v", name, err)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "Unexpected response code") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNotANomadAddress(t *testing.T) {
	// Any HTTP server that is not Nomad answers the API's paths with 404.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	c, err := nomad.New(nomad.Config{Address: other.URL, Timeout: 2 * time.Second, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Jobs(context.Background(), nomad.AllNamespaces)
	if !errors.Is(err, nomad.ErrNotFound) {
		t.Fatalf("error %v is not ErrNotFound", err)
	}
	for _, w := range []string{other.URL, "404", "is it a Nomad agent's HTTP API", "NOMAD_ADDR"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), `namespace "*"`) {
		t.Errorf("error blames a namespace for a missing endpoint: %q", err)
	}
}

func TestAddressWithoutScheme(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:4646", "nomad.example:4646", "http://"} {
		_, err := nomad.New(nomad.Config{Address: addr, Getenv: func(string) string { return "" }})
		if err == nil || !strings.Contains(err.Error(), "with its scheme") || !strings.Contains(err.Error(), addr) {
			t.Errorf("New(%q) = %v, want an error asking for the scheme", addr, err)
		}
	}
	if _, err := nomad.New(nomad.Config{Address: "127.0.0.1:4646", AddressFlag: "-nomad-addr", Getenv: func(string) string { return "" }}); err == nil || !strings.HasSuffix(err.Error(), "in NOMAD_ADDR or -nomad-addr") {
		t.Errorf("the hint names the command's own flag: %v", err)
	}
	for _, addr := range []string{"http://127.0.0.1:4646", "https://nomad.example", "unix:///var/run/nomad.sock"} {
		if _, err := nomad.New(nomad.Config{Address: addr, Getenv: func(string) string { return "" }}); err != nil {
			t.Errorf("New(%q): %v", addr, err)
		}
	}
}
