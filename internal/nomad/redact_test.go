package nomad

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRedactAddress(t *testing.T) {
	for in, want := range map[string]string{
		"http://alice:s3cret@nomad:4646":    "http://***@nomad:4646",
		"https://tok@nomad:4646/prefix":     "https://***@nomad:4646/prefix",
		"http://alice:p@ss@nomad:4646":      "http://***@nomad:4646",
		"alice:s3cret@nomad:4646":           "***@nomad:4646",
		"http://nomad:4646":                 "http://nomad:4646",
		"unix:///var/run/nomad.sock":        "unix:///var/run/nomad.sock",
		"http://[::1]:4646":                 "http://[::1]:4646",
		`Get "http://alice:***@nomad/v1/x"`: `Get "http://***@nomad/v1/x"`,
	} {
		got := redactAddress(in)
		if strings.HasPrefix(in, "Get") {
			got = redactText(in)
		}
		if got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := withoutUserinfo("http://alice:s3cret@nomad:4646"); got != "http://nomad:4646" {
		t.Errorf("withoutUserinfo = %q", got)
	}
}

// TestCredentialsInAddressNeverShown: a NOMAD_ADDR with a user and
// password authenticates the calls but appears nowhere caravan prints it:
// Address, the UI link, and the errors of refused, unreachable and
// malformed addresses.
func TestCredentialsInAddressNeverShown(t *testing.T) {
	var gotUser, gotPass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPass, _ = r.BasicAuth()
		http.Error(w, "Permission denied", http.StatusForbidden)
	}))
	defer srv.Close()
	secret := func(t *testing.T, what, s string) {
		t.Helper()
		if strings.Contains(s, "s3cret") || strings.Contains(s, "alice") {
			t.Errorf("%s shows the credentials: %s", what, s)
		}
	}
	addr := strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1)
	c, err := New(Config{Address: addr, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	secret(t, "Address", c.Address())
	if got, want := c.UIJobURL("j", "ns"), srv.URL+"/ui/jobs/j@ns"; got != want {
		t.Errorf("UI link %q, want %q", got, want)
	}
	_, err = c.Jobs(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("err = %v, want permission denied", err)
	}
	secret(t, "a refused call's error", err.Error())
	if gotUser != "alice" || gotPass != "s3cret" {
		t.Errorf("the call sent basic auth %q:%q, want the address's credentials", gotUser, gotPass)
	}

	c, _ = New(Config{Address: "http://alice:s3cret@127.0.0.1:1", Getenv: func(string) string { return "" }})
	_, err = c.Jobs(context.Background(), "")
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	secret(t, "an unreachable address's error", err.Error())

	env := map[string]string{"NOMAD_ADDR": "alice:s3cret@nomad:4646"}
	_, err = New(Config{Getenv: func(k string) string { return env[k] }})
	if err == nil {
		t.Fatal("an address without scheme was accepted")
	}
	secret(t, "a malformed address's error", err.Error())
}
