package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

func runSimulateCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Env{Stdout: &out, Stderr: &errb})
	return out.String(), errb.String(), code
}

func TestSimulateJSON(t *testing.T) {
	out, errs, code := runSimulateCmd(t, "simulate", "-trace", "testdata/simulate/trace.csv", "-pools", "testdata/simulate/pools.hcl", "-json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	for _, p := range []string{"caravan", "static_peak", "baseline", "reactive"} {
		pol, ok := got[p].(map[string]any)
		if !ok {
			t.Fatalf("no %q object in %s", p, out)
		}
		for _, k := range []string{"paid_gpu_hours", "used_gpu_hours", "queue_delay_p50_s", "queue_delay_p95_s", "queue_delay_max_s"} {
			if _, ok := pol[k].(float64); !ok {
				t.Errorf("%s.%s missing or not a number", p, k)
			}
		}
		// 4+4 GPUs for an hour, 16 for half an hour, 1 for ten minutes.
		if u := pol["used_gpu_hours"].(float64); u < 16.16 || u > 16.17 {
			t.Errorf("%s used_gpu_hours = %v, want 16.1667", p, u)
		}
		if c := pol["cost"].(float64); c <= 0 {
			t.Errorf("%s cost %v: the pool's price was not used", p, c)
		}
	}
}

func TestSimulateTableAndOverrides(t *testing.T) {
	out, errs, code := runSimulateCmd(t, "simulate", "testdata/simulate/trace.csv", "-gpus-per-node", "4", "-boot", "1m", "-idle", "5m")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"boot 1m0s", "caravan", "static_peak", "baseline", "reactive", "paid/used", "lower bound"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// A warm buffer keeps an empty node past min_idle, so it can only cost
// more on this trace (its runs leave the pool idle at the end).
func TestSimulateWarmFraction(t *testing.T) {
	paid := func(args ...string) float64 {
		t.Helper()
		out, errs, code := runSimulateCmd(t, append([]string{"simulate", "-trace", "testdata/simulate/trace.csv", "-pools", "testdata/simulate/pools.hcl", "-json"}, args...)...)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var got map[string]map[string]any
		_ = json.Unmarshal([]byte(out), &got)
		return got["caravan"]["paid_gpu_hours"].(float64)
	}
	none, warm := paid(), paid("-warm-fraction", "0.5")
	if warm <= none {
		t.Errorf("caravan paid %.3f GPU-h with a warm buffer and %.3f without; the buffer must keep nodes longer", warm, none)
	}
}

// With several pools and no -pool, each job goes to the smallest node that
// holds it: the 4-GPU runs fill one 4-GPU machine each, the 1-GPU run a
// 1-GPU machine, the 16-GPU run two 8-GPU machines; nothing is stranded,
// so the placement floor is exactly what is used.
func TestSimulateRightSized(t *testing.T) {
	for _, tc := range []struct {
		pool  []string
		floor float64
	}{
		{nil, 1},
		{[]string{"-pool", "g4,g8"}, 1 + (3*600.0/3600)/16.1667}, // the 1-GPU run strands 3 GPUs of a g4 for 10 minutes
		{[]string{"-pool", "g8"}, -1},                            // everything on 8-GPU machines: more than used
	} {
		args := append([]string{"simulate", "-trace", "testdata/simulate/trace.csv", "-pools", "testdata/simulate/sized.hcl", "-json"}, tc.pool...)
		out, errs, code := runSimulateCmd(t, args...)
		if code != ExitOK {
			t.Fatalf("%v: exit %d: %s", tc.pool, code, errs)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		floor := got["instant_machines_paid_over_used"].(float64)
		if tc.floor < 0 {
			if floor <= 1.01 {
				t.Errorf("%v: placement floor %.4f, want well above 1 with one machine size", tc.pool, floor)
			}
			continue
		}
		if math.Abs(floor-tc.floor) > 1e-3 {
			t.Errorf("%v: placement floor %.4f, want %.4f", tc.pool, floor, tc.floor)
		}
	}
}

// The shipped right-sized layout loads and spreads the trace over its
// sizes (README quotes simulations with it).
func TestSimulateShippedRightSizedPools(t *testing.T) {
	out, errs, code := runSimulateCmd(t, "simulate", "-trace", "testdata/simulate/trace.csv", "-pools", "../../hcl/pools/right-sized.hcl", "-json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct {
		Pools []string `json:"pools"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	// 4-GPU runs, a 16-GPU run and a 1-GPU run.
	if want := []string{"a100-1g", "a100-4g", "a100-8g"}; !slices.Equal(got.Pools, want) {
		t.Errorf("jobs went to pools %v, want %v", got.Pools, want)
	}
}

func TestSimulateErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"simulate"}, ExitUsage, "-trace FILE"},
		{[]string{"simulate", "-trace", "testdata/simulate/nope.csv"}, ExitError, "cannot open trace"},
		{[]string{"simulate", "-trace", "testdata/simulate/pools.hcl"}, ExitError, "line"},
		{[]string{"simulate", "-trace", "testdata/simulate/trace.csv", "-pool", "zz"}, ExitUsage, `pool "zz" is not declared`},
		{[]string{"simulate", "-trace", "testdata/simulate/trace.csv", "-warm-fraction", "1.5"}, ExitUsage, "-warm-fraction 1.5 is not between 0 and 1"},
		{[]string{"simulate", "-trace", "testdata/simulate/trace.csv", "-spot-price", "0.3"}, ExitUsage, "-spot-price needs -checkpoint-overhead"},
		{[]string{"simulate", "-trace", "testdata/simulate/trace.csv", "-checkpoint-overhead", "2m", "-spot-price", "1.5"}, ExitUsage, "give one in (0, 1]"},
		{[]string{"simulate", "-trace", "testdata/simulate/trace.csv", "-checkpoint-overhead", "2m", "-spot-price", "0.3", "-preemptions-per-day", "-1"}, ExitUsage, "preemptions per day -1 is negative"},
		{[]string{"simulate", "-trace", "testdata/simulate/trace.csv", "-idle", "5m", "-min-idle", "6m"}, ExitUsage, "-min-idle 6m0s is longer than pool \"gpu\"'s idle_timeout 5m0s"},
	}
	for _, tc := range tests {
		_, errs, code := runSimulateCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}

// -spot-price runs the pools on spot machines and says, per policy, what
// they cost against on-demand machines alone.
func TestSimulateSpotJSON(t *testing.T) {
	out, errs, code := runSimulateCmd(t, "simulate", "-trace", "testdata/simulate/trace.csv", "-pools", "testdata/simulate/pools.hcl",
		"-checkpoint-overhead", "2m", "-spot-price", "0.35", "-preemptions-per-day", "48", "-json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct{ Caravan map[string]any }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	c := got.Caravan
	if c["spot_gpu_hours"].(float64) <= 0 || c["preemptions"].(float64) <= 0 || c["on_demand_only_paid_gpu_hours"].(float64) <= 0 {
		t.Errorf("caravan: no spot figures in %v", c)
	}
	if r := c["spot_cost_over_on_demand"].(float64); r <= 0 || r >= 1 {
		t.Errorf("caravan spot cost / on-demand = %v, want between 0 and 1", r)
	}
}
