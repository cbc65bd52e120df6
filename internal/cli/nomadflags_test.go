package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
)

func TestNomadFlagsReadInjectedEnvAndFlagsOverride(t *testing.T) {
	srv := nomadtest.New(t)
	srv.AddNamespace("ml")
	var stderr bytes.Buffer
	env := Env{Stderr: &stderr, Getenv: func(k string) string {
		return map[string]string{"NOMAD_ADDR": srv.URL(), "NOMAD_NAMESPACE": "ml"}[k]
	}}
	fs := newFlagSet(env, "test", "")
	nf := addNomadFlags(fs)
	if _, _, ok := parseFlags(fs, nil); !ok {
		t.Fatal("parse")
	}
	c, err := nf.client(env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Address() != srv.URL() || c.Namespace() != "ml" {
		t.Fatalf("env not honoured: %s %s", c.Address(), c.Namespace())
	}
	if _, err := c.Jobs(context.Background(), ""); err != nil {
		t.Fatal(err)
	}

	fs = newFlagSet(env, "test", "")
	nf = addNomadFlags(fs)
	if _, _, ok := parseFlags(fs, []string{"dir", "-address", "http://127.0.0.1:1", "-namespace", "other", "-token", "t", "-region", "eu"}); !ok {
		t.Fatal("parse")
	}
	c, _ = nf.client(env)
	if c.Address() != "http://127.0.0.1:1" || c.Namespace() != "other" || c.Region() != "eu" {
		t.Fatalf("flags do not override env: %s %s %s", c.Address(), c.Namespace(), c.Region())
	}
	_, err = c.Jobs(context.Background(), "")
	if !errors.Is(err, nomad.ErrUnreachable) {
		t.Fatalf("got %v", err)
	}
	if code := nomadError(env, err); code != ExitError {
		t.Fatalf("exit %d", code)
	}
	line := stderr.String()
	if !strings.HasPrefix(line, "Error: list jobs: cannot reach Nomad at http://127.0.0.1:1") || strings.Count(line, "\n") != 1 {
		t.Fatalf("printed %q", line)
	}
}

func TestNomadFlagsIgnoreProcessEnv(t *testing.T) {
	t.Setenv("NOMAD_ADDR", "http://process-env:4646")
	fs := newFlagSet(Env{Stderr: &bytes.Buffer{}}, "test", "")
	nf := addNomadFlags(fs)
	parseFlags(fs, nil)
	c, err := nf.client(Env{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if c.Address() != "http://127.0.0.1:4646" {
		t.Fatalf("the process env leaked past Env.Getenv: %s", c.Address())
	}
}
