//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/cli"
	"github.com/caravan-ml/caravan/internal/controller"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
)

// TestACLPolicies proves the shipped ACL policies against a real Nomad
// with ACLs on. The rig runs with ACLs off, so this test starts a Nomad of
// its own from NOMAD_BIN (dev mode, loopback, free ports), applies every
// policy in deploy/acl and jobs/ and the experiments' namespace with the
// nomad CLI exactly as docs/setup.md says, and checks the threat model:
// the CI plan token writes nothing; the apply token registers runs only in
// the experiments' namespace, where Nomad refuses raw_exec whatever caravan
// is told; the autoscaler's token creates node pools and publishes the
// catalogue, and registers jobs (the controller's release of runs that
// waited for others) only in the experiments' namespace; and caravan's own policy check reads the
// published catalogue with the apply token.
func TestACLPolicies(t *testing.T) {
	bin := os.Getenv("NOMAD_BIN")
	if bin == "" {
		t.Skip("NOMAD_BIN is not set: this test starts a Nomad of its own with ACLs enabled (make e2e sets it from the rig)")
	}
	a := startACLAgent(t, bin)
	for _, f := range []string{"caravan-plan", "caravan-apply", "caravan-user", "caravan-autoscaler", "caravan-agent", "prometheus"} {
		a.nomad("acl", "policy", "apply", "-description", f, f, filepath.Join("..", "..", "deploy", "acl", f+".policy.hcl"))
	}
	a.nomad("acl", "policy", "apply", "caravan", filepath.Join("..", "..", "jobs", "caravan-acl.policy.hcl"))
	a.nomad("namespace", "apply", filepath.Join("..", "..", "deploy", "acl", "ml.namespace.hcl"))
	a.nomad("node", "pool", "apply", writeTemp(t, "gpu.nomad.hcl", "node_pool \"gpu\" {}\n"))
	plan, apply, user, scaler := a.token("caravan-plan"), a.token("caravan-apply"), a.token("caravan-user"), a.token("caravan-autoscaler")

	inML := t.TempDir()
	writeFile(t, filepath.Join(inML, "acl.hcl"), "caravan {\n  project = \"acl\"\n}\nexperiment \"acl\" {\n  namespace = \"ml\"\n  image     = \"busybox:1.36\"\n  image_pinning = \"allow-mutable\"\n  command   = \"true\"\n}\n")
	inDefault := t.TempDir()
	writeFile(t, filepath.Join(inDefault, "acl.hcl"), "caravan {\n  project = \"acl\"\n}\nexperiment \"dflt\" {\n  image   = \"busybox:1.36\"\n  image_pinning = \"allow-mutable\"\n  command = \"true\"\n}\n")
	rawInML := t.TempDir()
	writeFile(t, filepath.Join(rawInML, "raw.hcl"), "caravan {\n  project = \"acl\"\n}\nexperiment \"raw\" {\n  namespace = \"ml\"\n  pool      = \"gpu\"\n  driver    = \"raw_exec\"\n  command   = \"/bin/sh\"\n}\n")

	t.Log("the CI plan token plans, and cannot write anything")
	a.caravan(plan, 0, "plan", inML)
	r := a.caravan(plan, 1, "apply", inML)
	contains(t, r.stderr, "permission denied")
	ctx := context.Background()
	pc := a.client(plan)
	if _, err := pc.PutVariable(ctx, "ml", record.Ref{Project: "acl", RunID: "acl-00000000"}.Path(), map[string]string{"record": "{}"}, nomad.NoCAS); !errors.Is(err, nomad.ErrPermission) {
		t.Errorf("plan token wrote a run record: %v", err)
	}
	if err := autoscale.PublishCatalog(ctx, pc, "default", &spec.Catalog{Pools: map[string]*spec.Pool{}}, "x", time.Now()); !errors.Is(err, nomad.ErrPermission) {
		t.Errorf("plan token wrote the pool catalogue: %v", err)
	}

	t.Log("the apply token registers in the experiments' namespace only, and Nomad refuses raw_exec there")
	r = a.caravan(apply, 0, "apply", inML)
	contains(t, r.stdout, "1 registered")
	if strings.Contains(r.stderr, "snapshot") {
		t.Errorf("the apply token may not keep the configuration snapshot:\n%s", r.stderr)
	}
	r = a.caravan(apply, 1, "apply", inDefault)
	contains(t, r.stderr, "permission denied", `namespace "default"`)
	r = a.caravan(apply, 1, "apply", rawInML)
	contains(t, r.stderr, `task driver "raw_exec" is not allowed in namespace "ml"`)
	if err := autoscale.PublishCatalog(ctx, a.client(apply), "default", &spec.Catalog{Pools: map[string]*spec.Pool{}}, "x", time.Now()); !errors.Is(err, nomad.ErrPermission) {
		t.Errorf("apply token wrote the pool catalogue: %v", err)
	}

	t.Log("the apply token writes the gates of runs that wait for others; the plan token sees them waiting")
	deps := t.TempDir()
	writeFile(t, filepath.Join(deps, "deps.hcl"), "caravan {\n  project = \"acl\"\n}\nexperiment \"up\" {\n  namespace = \"ml\"\n  image     = \"busybox:1.36\"\n  image_pinning = \"allow-mutable\"\n  command   = \"true\"\n}\nexperiment \"down\" {\n  namespace  = \"ml\"\n  image      = \"busybox:1.36\"\n  image_pinning = \"allow-mutable\"\n  command    = \"false\"\n  depends_on = [\"up\"]\n}\n")
	r = a.caravan(apply, 0, "apply", deps)
	contains(t, r.stdout, "1 registered, 1 waiting")
	r = a.caravan(plan, 0, "plan", deps)
	contains(t, r.stdout, "waiting for the runs it depends on")

	t.Log("a data scientist's token registers in the experiments' namespace only")
	r = a.caravan(user, 1, "run", filepath.Join(inDefault, "acl.hcl"))
	contains(t, r.stderr, "permission denied")

	t.Log("the autoscaler's token makes node pools and publishes the catalogue, and registers jobs only in the experiments' namespace")
	sc := a.client(scaler)
	if err := sc.EnsureNodePool(ctx, "gpu-acl", "caravan e2e"); err != nil {
		t.Errorf("autoscaler token cannot create its node pool: %v", err)
	}
	if err := sc.EnsureNodePool(ctx, "caravan-system", "caravan e2e"); !errors.Is(err, nomad.ErrPermission) {
		t.Errorf("autoscaler token created a node pool outside gpu-*: %v", err)
	}
	cat := &spec.Catalog{Source: "pools", Pools: map[string]*spec.Pool{"acl": {Name: "acl", NodePool: "gpu-acl", GPU: "nvidia/gpu"}},
		Policy: &spec.Policy{AllowedNodePools: []string{"gpu-acl"}, Declared: true}}
	if err := autoscale.PublishCatalog(ctx, sc, "default", cat, "x", time.Now()); err != nil {
		t.Fatalf("autoscaler token cannot publish the catalogue: %v", err)
	}
	// It also runs the controller, which writes the runs' records.
	if err := sc.CreateRecord(ctx, "ml", &record.Run{RunID: "acl-00000001", Project: "acl", Namespace: "ml"}); err != nil {
		t.Errorf("autoscaler token cannot write a run record: %v", err)
	}
	// It runs the controller, which reads the gates of waiting runs.
	if _, err := controller.NewDependencies(controller.DependenciesConfig{Nomad: sc}).Pass(ctx); err != nil {
		t.Errorf("autoscaler token cannot look at waiting runs: %v", err)
	}
	// It registers jobs only where the controller starts runs that
	// waited for others: in the experiments' namespace, which refuses
	// raw_exec; nowhere else.
	r = a.caravan(scaler, 1, "apply", writeTempDir(t, "s.hcl", "caravan {\n  project = \"acl\"\n}\nexperiment \"s\" {\n  pool      = \"acl\"\n  image     = \"busybox:1.36\"\n  image_pinning = \"allow-mutable\"\n  command   = \"true\"\n}\n"))
	contains(t, r.stderr, "permission denied")
	r = a.caravan(scaler, 1, "apply", writeTempDir(t, "r.hcl", "caravan {\n  project = \"acl\"\n}\nexperiment \"r\" {\n  namespace = \"ml\"\n  pool      = \"acl\"\n  driver    = \"raw_exec\"\n  command   = \"/bin/sh\"\n}\n"))
	contains(t, r.stderr, `task driver "raw_exec" is not allowed in namespace "ml"`)

	t.Log("plan and apply tokens read the published policy, and caravan enforces it")
	r = a.caravan(plan, 1, "plan", inML)
	contains(t, r.stderr, "Node pool not allowed", autoscale.CatalogVariable)
}

// aclAgent is a Nomad dev agent with ACLs enabled, and its management token.
type aclAgent struct {
	t          *testing.T
	bin, addr  string
	management string
}

func startACLAgent(t *testing.T, bin string) *aclAgent {
	t.Helper()
	// Short: allocation directories hold unix sockets, whose paths are
	// limited to 108 bytes.
	dir, err := os.MkdirTemp("", "cvacl")
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 3)
	cfg := fmt.Sprintf(`data_dir  = %q
bind_addr = "127.0.0.1"
ports {
  http = %d
  rpc  = %d
  serf = %d
}
acl {
  enabled = true
}
client {
  options { "fingerprint.denylist" = "env_aws,env_gce,env_azure,env_digitalocean" }
}
`, filepath.Join(dir, "data"), ports[0], ports[1], ports[2])
	if err := os.WriteFile(filepath.Join(dir, "agent.hcl"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "agent", "-dev", "-config", filepath.Join(dir, "agent.hcl"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		os.RemoveAll(dir)
	})
	a := &aclAgent{t: t, bin: bin, addr: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(a.addr + "/v1/status/leader")
		if err == nil {
			var leader string
			_ = json.NewDecoder(resp.Body).Decode(&leader)
			resp.Body.Close()
			if leader != "" {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "agent.log"))
			t.Fatalf("the ACL-enabled Nomad did not elect a leader within 30 s:\n%s", log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var boot struct{ SecretID string }
	if err := json.Unmarshal([]byte(a.nomad("acl", "bootstrap", "-json")), &boot); err != nil || boot.SecretID == "" {
		t.Fatalf("bootstrap: %v", err)
	}
	a.management = boot.SecretID
	return a
}

// nomad runs the nomad CLI with the management token and fails the test
// when it fails.
func (a *aclAgent) nomad(args ...string) string {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.bin, args...)
	cmd.Env = append(os.Environ(), "NOMAD_ADDR="+a.addr, "NOMAD_TOKEN="+a.management)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		a.t.Fatalf("nomad %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// token creates a client token with one policy.
func (a *aclAgent) token(policy string) string {
	a.t.Helper()
	var tok struct{ SecretID string }
	if err := json.Unmarshal([]byte(a.nomad("acl", "token", "create", "-name", policy, "-policy", policy, "-json")), &tok); err != nil {
		a.t.Fatal(err)
	}
	return tok.SecretID
}

func (a *aclAgent) client(token string) *nomad.Client {
	a.t.Helper()
	c, err := nomad.New(nomad.Config{Address: a.addr, Token: token})
	if err != nil {
		a.t.Fatal(err)
	}
	return c
}

// caravan runs one command in-process against the agent with token and
// checks its exit code.
func (a *aclAgent) caravan(token string, want int, args ...string) result {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vars := map[string]string{"NOMAD_ADDR": a.addr, "NOMAD_TOKEN": token}
	var out, errb bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return vars[k] }, Environ: func() []string { return nil },
		Logger: slog.New(slog.NewTextHandler(&errb, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	code := cli.Main(ctx, args, env)
	r := result{out.String(), errb.String(), code}
	a.t.Logf("$ caravan %s → %d\n%s%s", strings.Join(args, " "), code, r.stdout, r.stderr)
	if code != want {
		a.t.Fatalf("caravan %s: exit %d, want %d", strings.Join(args, " "), code, want)
	}
	return r
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	writeFile(t, p, content)
	return p
}

func writeTempDir(t *testing.T, name, content string) string {
	t.Helper()
	return filepath.Dir(writeTemp(t, name, content))
}
