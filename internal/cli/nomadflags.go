package cli

import (
	"context"
	"flag"

	"github.com/caravan-ml/caravan/internal/nomad"
)

// nomadFlags are the flags of every command that talks to Nomad. Empty
// flags fall back to NOMAD_ADDR, NOMAD_TOKEN, NOMAD_NAMESPACE and
// NOMAD_REGION (and the NOMAD_CACERT/CLIENT_CERT/CLIENT_KEY/SKIP_VERIFY TLS
// variables), read through Env.Getenv exactly as the nomad CLI reads them.
type nomadFlags struct {
	address   string
	token     string
	namespace string
	region    string
}

// addNomadFlags registers -address, -token, -namespace and -region on fs.
func addNomadFlags(fs *flag.FlagSet) *nomadFlags {
	f := &nomadFlags{}
	fs.StringVar(&f.address, "address", "", "Nomad HTTP API address (default: $NOMAD_ADDR, else http://127.0.0.1:4646)")
	fs.StringVar(&f.token, "token", "", "Nomad ACL token (default: $NOMAD_TOKEN)")
	fs.StringVar(&f.namespace, "namespace", "", "Nomad namespace (default: $NOMAD_NAMESPACE, else \"default\")")
	fs.StringVar(&f.region, "region", "", "Nomad region (default: $NOMAD_REGION, else the agent's)")
	return f
}

// config is the nomad.Config the flags and env describe. The environment
// comes from env.Getenv, never from the process directly, so that tests
// can inject NOMAD_ADDR and a test's own environment cannot leak in.
func (f *nomadFlags) config(env Env) nomad.Config {
	getenv := env.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	return nomad.Config{Address: f.address, Token: f.token, Namespace: f.namespace, Region: f.region, Getenv: getenv}
}

// configured reports whether the flags or env name a Nomad address, for
// commands that use Nomad only when told where it is.
func (f *nomadFlags) configured(env Env) bool {
	return f.address != "" || (env.Getenv != nil && env.Getenv("NOMAD_ADDR") != "")
}

// client builds the Nomad client the flags and env describe. It does not
// contact Nomad.
func (f *nomadFlags) client(env Env) (*nomad.Client, error) {
	return nomad.New(f.config(env))
}

// checkNamespace verifies the namespace that -namespace names, when it
// names one. Nomad lists an unknown namespace as empty, which read commands
// would otherwise print as "No runs." for a typo.
func (f *nomadFlags) checkNamespace(ctx context.Context, cl *nomad.Client) error {
	if f.namespace == "" || f.namespace == nomad.AllNamespaces {
		return nil
	}
	return cl.CheckNamespace(ctx, f.namespace)
}

// reader connects for a read command: the client, with -namespace checked
// to exist, and the namespace to list (every one unless -namespace names
// one). On failure it has printed the error and returns the exit code.
func (f *nomadFlags) reader(ctx context.Context, env Env) (cl *nomad.Client, ns string, code int, ok bool) {
	cl, err := f.client(env)
	if err == nil {
		err = f.checkNamespace(ctx, cl)
	}
	if err != nil {
		return nil, "", nomadError(env, err), false
	}
	if f.namespace == "" {
		return cl, nomad.AllNamespaces, ExitOK, true
	}
	return cl, "", ExitOK, true
}

// nomadError prints a Nomad failure as one "Error: ..." line (the nomad
// package's errors already name the address and the fix) and returns the
// exit code for it.
func nomadError(env Env, err error) int {
	errorf(env, "%v", err)
	return ExitError
}
