package nomad

import (
	"crypto/tls"
	"net/http"
	"os"
	"reflect"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// TestInjectedEnvReadsLikeDefaultConfig pins defaultConfig(getenv) to
// api.DefaultConfig: the same variables, parsed the same way.
func TestInjectedEnvReadsLikeDefaultConfig(t *testing.T) {
	env := map[string]string{
		"NOMAD_ADDR": "https://nomad.example:4646", "NOMAD_REGION": "eu", "NOMAD_NAMESPACE": "ml",
		"NOMAD_HTTP_AUTH": "user:pa:ss", "NOMAD_CACERT": "/ca.pem", "NOMAD_CAPATH": "/cas",
		"NOMAD_CLIENT_CERT": "/c.pem", "NOMAD_CLIENT_KEY": "/k.pem", "NOMAD_TLS_SERVER_NAME": "nomad",
		"NOMAD_SKIP_VERIFY": "true", "NOMAD_TOKEN": "secret",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	want := defaultConfig(nil) // api.DefaultConfig reading the process env
	got := defaultConfig(func(k string) string { return env[k] })
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("injected env config differs from api.DefaultConfig:\n got %+v %+v %+v\nwant %+v %+v %+v", got, got.TLSConfig, got.HttpAuth, want, want.TLSConfig, want.HttpAuth)
	}
}

func TestExplicitFieldsOverrideEnv(t *testing.T) {
	env := map[string]string{"NOMAD_ADDR": "http://env:4646", "NOMAD_TOKEN": "env-token", "NOMAD_NAMESPACE": "envns"}
	c, err := New(Config{Address: "http://flag:4646/", Namespace: "flagns", Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if c.Address() != "http://flag:4646" || c.Namespace() != "flagns" {
		t.Fatalf("address %s namespace %s", c.Address(), c.Namespace())
	}
	if tok := c.api.Address(); tok == "" {
		t.Fatal("no address")
	}
	c, _ = New(Config{Getenv: func(k string) string { return env[k] }})
	if c.Address() != "http://env:4646" || c.Namespace() != "envns" || c.timeout != DefaultTimeout {
		t.Fatalf("env not honoured: %s %s %s", c.Address(), c.Namespace(), c.timeout)
	}
	// An injected empty environment must not read the process's.
	t.Setenv("NOMAD_ADDR", "http://process:4646")
	c, _ = New(Config{Getenv: func(string) string { return "" }})
	if c.Address() != "http://127.0.0.1:4646" {
		t.Fatalf("process env leaked: %s", c.Address())
	}
	_ = os.Getenv
}

// TestHTTPClientKeepsConnectionsForParallelWrites pins what setHTTPClient
// changes from the api package's own client (enough idle connections for
// apply's 16 concurrent writes) and what it must keep (TLS settings from
// NOMAD_*, HTTP/1, the api's unix socket client).
func TestHTTPClientKeepsConnectionsForParallelWrites(t *testing.T) {
	tests := []struct {
		name    string
		address string
		tls     api.TLSConfig
		want    func(t *testing.T, tr *http.Transport)
	}{
		{name: "plain", address: "http://nomad:4646", want: func(t *testing.T, tr *http.Transport) {
			if tr.MaxIdleConnsPerHost < 16 {
				t.Errorf("MaxIdleConnsPerHost = %d, want at least apply's default parallelism 16", tr.MaxIdleConnsPerHost)
			}
			if tr.MaxConnsPerHost == 0 || tr.MaxConnsPerHost > 50 {
				t.Errorf("MaxConnsPerHost = %d, want a bound well below Nomad's 100 connections per client address", tr.MaxConnsPerHost)
			}
			if tr.ForceAttemptHTTP2 {
				t.Error("ForceAttemptHTTP2 is set; the api client talks HTTP/1")
			}
			if tr.TLSClientConfig == nil || tr.TLSClientConfig.MinVersion != tls.VersionTLS12 {
				t.Errorf("TLS config %+v, want MinVersion TLS 1.2", tr.TLSClientConfig)
			}
		}},
		{name: "tls settings", address: "https://nomad:4646", tls: api.TLSConfig{Insecure: true, TLSServerName: "nomad.internal"},
			want: func(t *testing.T, tr *http.Transport) {
				if !tr.TLSClientConfig.InsecureSkipVerify || tr.TLSClientConfig.ServerName != "nomad.internal" {
					t.Errorf("TLS config %+v lost NOMAD_SKIP_VERIFY/NOMAD_TLS_SERVER_NAME", tr.TLSClientConfig)
				}
			}},
		{name: "unix socket", address: "unix:///run/nomad.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ac := &api.Config{Address: tt.address, TLSConfig: &tt.tls}
			if _, err := setHTTPClient(ac); err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if ac.HttpClient != nil {
					t.Fatal("a unix socket address got a TCP client; the api package's socket client must stay")
				}
				return
			}
			rt, ok := ac.HttpClient.Transport.(*retryTransport)
			if !ok {
				t.Fatalf("transport %T does not retry 429s", ac.HttpClient.Transport)
			}
			tt.want(t, rt.next.(*http.Transport))
		})
	}
}
