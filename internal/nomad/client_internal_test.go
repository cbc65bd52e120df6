package nomad

import (
	"os"
	"reflect"
	"testing"
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
