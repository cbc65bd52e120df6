//go:build e2e

package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/agent/agentcmd"
	"github.com/caravan-ml/caravan/internal/cli"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
)

// The rig's GPU client runs raw_exec tasks in cgroup v1 and its Nomad
// reports 0 RSS and 0 CPU for them; its simulated GPUs report no
// utilisation. These runs prove the agent measures what Nomad does not,
// and leaves out what nobody measures.
const (
	// hold writes three metric lines, then holds 200 MiB (tail keeps its
	// unterminated input line) until the job is stopped or 2 minutes pass.
	hold = `for i in 1 2 3; do echo "{\"step\": $i, \"loss\": 0.$i}" >> "$CARAVAN_METRICS"; done; (head -c 200M /dev/zero; exec sleep 120) | tail`
	// leak grows 8 MiB/s until the kernel kills it at its 200 MiB limit;
	// set -e ends the writer once tail is gone, so the run exits with
	// tail's 137.
	leak = `(set -e; for i in $(seq 1 60); do head -c 8M /dev/zero; sleep 1; done) | tail`
)

// TestAgentOnTheRig runs `caravan agent -nomad-addr $RIG_GPU_CLIENT_ADDR`
// in-process with no flag naming the node (only a free port to listen on
// and short intervals), and checks what it says about two runs on the GPU
// node: one holding 200 MiB and writing metrics, one leaking into its
// memory limit.
func TestAgentOnTheRig(t *testing.T) {
	clientAddr := os.Getenv("RIG_GPU_CLIENT_ADDR")
	if os.Getenv("NOMAD_ADDR") == "" || clientAddr == "" {
		t.Skip("NOMAD_ADDR and RIG_GPU_CLIENT_ADDR are not set: this test needs the rig of ../shared/nomad (make e2e starts it)")
	}
	s := newSuite(t)
	metricsURL, logs := startAgent(t, clientAddr)

	dir := s.dir()
	writeFile(t, filepath.Join(dir, "hold.hcl"), s.experiment("hold", hold, "512MiB"))
	writeFile(t, filepath.Join(dir, "leak.hcl"), s.experiment("leak", leak, "200MiB"))
	s.must(0, "apply", dir)
	holdID, leakID := s.runID("hold"), s.runID("leak")

	t.Log("the agent found its node without flags, and said where from")
	for _, want := range []string{`node=gpu-node-1 node_from="local Nomad agent"`, `node_id_from="local Nomad agent"`, `pool=gpu pool_from="local Nomad agent"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("agent log lacks %s:\n%s", want, logs.String())
		}
	}

	t.Log("the held run's series carry its run ID, a measured RSS, and its metrics")
	var text string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		text = get(t, metricsURL)
		rss := value(text, "caravan_run_memory_rss_bytes", holdID, "")
		loss := value(text, "caravan_run_metric", holdID, `name="loss"`)
		if rss > 150<<20 && loss == 0.3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes: RSS %v, loss %v for run %s; scrape:\n%s\nagent log:\n%s", rss, loss, holdID, grepRun(text, holdID), logs.String())
		}
		time.Sleep(time.Second)
	}
	t.Logf("scrape of run %s:\n%s", holdID, grepRun(text, holdID))
	for _, want := range []string{`figure="rss"`, `caravan_run_metric_step{`, `caravan_run_gpus{`} {
		if !strings.Contains(grepRun(text, holdID), want) {
			t.Errorf("the run's series lack %s", want)
		}
	}
	if strings.Contains(grepRun(text, holdID), "caravan_run_gpu_utilization_ratio{") {
		t.Error("the simulated GPUs report no utilisation, yet the run has a utilisation series")
	}

	t.Log("the leak is killed at its limit, and report says OOM with its growth rate")
	s.waitState(leakID, "failed")
	r := s.report(leakID)
	if r.Reason.Kind != "oom-killed" || !strings.Contains(r.Reason.Summary, "killed at its 200 MiB limit, growing") {
		t.Errorf("report of the leak: %+v", r.Reason)
	}

	t.Log("the held run's usage record has its metric series and sources")
	s.must(0, "stop", holdID)
	s.waitState(holdID, "stopped", "complete", "failed")
	u := s.usage(holdID, func(u *record.Usage) bool { return u.Final })
	if u.RSSPeak < 150<<20 || u.Sources[record.FigureRSS] == "" || u.Has(record.FigureGPUUtil) || u.Timeline.GPUUtil != nil {
		t.Errorf("usage: RSS peak %d, sources %v, GPU util series %v", u.RSSPeak, u.Sources, u.Timeline.GPUUtil)
	}
	if len(u.Metrics) != 1 || u.Metrics[0].Name != "loss" || u.Metrics[0].Last != (record.MetricPoint{Step: 3, Value: 0.3}) || len(u.Metrics[0].Step) != 3 {
		t.Errorf("metrics in the usage record: %+v", u.Metrics)
	}
}

// startAgent runs the agent command in-process until the test ends and
// returns its metrics URL and its log.
func startAgent(t *testing.T, clientAddr string) (string, *syncbuf.Buffer) {
	t.Helper()
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	env := func(k string) string {
		if strings.HasPrefix(k, "CARAVAN_") {
			return "" // no CARAVAN_NODE_ID, no CARAVAN_POOL: the node is found, not told
		}
		return os.Getenv(k)
	}
	f := agentcmd.Define(fs, env)
	if err := fs.Parse([]string{"-nomad-addr", clientAddr, "-listen", "127.0.0.1:0", "-interval", "1s", "-flush", "2s"}); err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- agentcmd.Run(ctx, *f, env, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	re := regexp.MustCompile(`msg="serving metrics" url=(\S+)`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return m[1], logs
		}
	}
	t.Fatalf("the agent did not start:\n%s", logs.String())
	return "", nil
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// grepRun is the lines of the exposition that belong to run id.
func grepRun(text, id string) string {
	var out []string
	for l := range strings.SplitSeq(text, "\n") {
		if strings.Contains(l, `run="`+id+`"`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// value is the value of metric for run id (and a further label), or -1.
func value(text, metric, id, label string) float64 {
	for l := range strings.SplitSeq(text, "\n") {
		if !strings.HasPrefix(l, metric+"{") || !strings.Contains(l, `run="`+id+`"`) || !strings.Contains(l, label) {
			continue
		}
		v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		if err == nil {
			return v
		}
	}
	return -1
}

// suite is a namespace and a project of this test's own on the cluster,
// removed at the end.
type suite struct {
	t      *testing.T
	prefix string
	cl     *nomad.Client
}

func newSuite(t *testing.T) *suite {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	prefix := "e2eagent" + hex.EncodeToString(b)
	cl, err := nomad.New(nomad.Config{Namespace: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.API().Namespaces().Register(&api.Namespace{Name: prefix}, nil); err != nil {
		t.Fatalf("create namespace %s: %v", prefix, err)
	}
	s := &suite{t: t, prefix: prefix, cl: cl}
	t.Cleanup(s.cleanup)
	// The controller writes each run's record, which report reads.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"controller", "-listen", "", "-resync", "5s"}, cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
			Getenv: s.getenv, Environ: os.Environ, Logger: slog.New(slog.DiscardHandler)})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func (s *suite) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	jobs, _ := s.cl.Jobs(ctx, s.prefix)
	for _, j := range jobs {
		if err := s.cl.PurgeJob(ctx, j.Namespace, j.ID); err != nil {
			s.t.Errorf("cleanup: %v", err)
		}
	}
	vars, _ := s.cl.Variables(ctx, s.prefix, "")
	for _, v := range vars {
		if err := s.cl.DeleteVariable(ctx, v.Namespace, v.Path, nomad.NoCAS); err != nil {
			s.t.Errorf("cleanup: %v", err)
		}
	}
	if _, err := s.cl.API().Namespaces().Delete(s.prefix, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		s.t.Errorf("cleanup: delete namespace %s: %v", s.prefix, err)
	}
}

func (s *suite) getenv(k string) string {
	switch k {
	case "NOMAD_NAMESPACE":
		return s.prefix
	case "CARAVAN_PROJECT":
		return s.prefix
	}
	return os.Getenv(k)
}

func (s *suite) caravan(args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := cli.Main(ctx, args, cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: s.getenv, Environ: os.Environ,
		Logger: slog.New(slog.NewTextHandler(&errb, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if code != 0 {
		s.t.Logf("$ caravan %s → %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String(), code
}

func (s *suite) must(want int, args ...string) string {
	s.t.Helper()
	out, code := s.caravan(args...)
	if code != want {
		s.t.Fatalf("caravan %s: exit %d, want %d", strings.Join(args, " "), code, want)
	}
	return out
}

func (s *suite) dir() string {
	d := s.t.TempDir()
	writeFile(s.t, filepath.Join(d, "project.hcl"), "caravan {\n  project = \""+s.prefix+"\"\n}\n")
	return d
}

// experiment is one raw_exec run on one GPU of pool gpu running script.
func (s *suite) experiment(name, script, memory string) string {
	return fmt.Sprintf(`experiment %q {
  pool    = "gpu"
  driver  = "raw_exec"
  command = "/bin/sh"
  args    = ["-c", %q]
  resources {
    gpus   = 1
    cpu    = 100
    memory = %q
  }
  retries = 0
}
`, s.prefix+name, script, memory)
}

type lsRow struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

func (s *suite) ls(experiment string) []lsRow {
	var rows []lsRow
	if err := json.Unmarshal([]byte(s.must(0, "ls", "-json", "-experiment", s.prefix+experiment)), &rows); err != nil {
		s.t.Fatal(err)
	}
	return rows
}

func (s *suite) runID(experiment string) string {
	rows := s.ls(experiment)
	if len(rows) != 1 {
		s.t.Fatalf("experiment %s has %d runs, want 1", experiment, len(rows))
	}
	return rows[0].ID
}

func (s *suite) waitState(id string, states ...string) {
	s.t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		var rows []lsRow
		json.Unmarshal([]byte(s.must(0, "ls", "-json")), &rows)
		for _, r := range rows {
			for _, st := range states {
				if r.ID == id && r.State == st {
					return
				}
			}
		}
	}
	s.t.Fatalf("run %s did not reach %v", id, states)
}

type reportJSON struct {
	Reason struct {
		Kind     string   `json:"kind"`
		Summary  string   `json:"summary"`
		Evidence []string `json:"evidence"`
	} `json:"reason"`
}

// report is `caravan report -json` once the agent's final usage is in.
func (s *suite) report(id string) reportJSON {
	s.t.Helper()
	s.usage(id, func(u *record.Usage) bool { return u.Final })
	var r reportJSON
	if err := json.Unmarshal([]byte(s.must(0, "report", id, "-json")), &r); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("report of %s: %+v", id, r.Reason)
	return r
}

// usage waits for the run's usage record to satisfy ok.
func (s *suite) usage(id string, ok func(*record.Usage) bool) *record.Usage {
	s.t.Helper()
	ref := record.Ref{Namespace: s.prefix, Project: s.prefix, RunID: id}
	var last *record.Usage
	var err error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		last, err = s.cl.Usage(ctx, ref)
		cancel()
		if err == nil && ok(last) {
			return last
		}
	}
	s.t.Fatalf("usage of %s: %+v, %v", id, last, err)
	return nil
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
