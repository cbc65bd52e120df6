package report

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/caravan-ml/caravan/internal/record"
)

// Goals of a metric: whether its best value is its lowest or its highest.
const (
	GoalMin = "min"
	GoalMax = "max"
)

// lowerIsBetter are the words that make a metric's best value its lowest:
// a metric whose name contains one (as a whole word between '_', '-', '/',
// '.' or at either end) is minimised, every other one maximised. The rule
// is the same for compare and `ls -sort`, and -best overrides it per name.
var lowerIsBetter = []string{"loss", "err", "error", "errors", "perplexity", "ppl", "mse", "mae", "rmse", "nll", "wer", "cer",
	"fid", "latency", "time", "duration", "seconds", "regret", "bpd", "bpc"}

// Goal is the goal of the metric name: goals[name] when given there, else
// GoalMin for a loss-like name (lowerIsBetter), else GoalMax.
func Goal(name string, goals map[string]string) string {
	if g := goals[name]; g != "" {
		return g
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return strings.ContainsRune("_-/. ", r) }) {
		if slices.Contains(lowerIsBetter, w) {
			return GoalMin
		}
	}
	return GoalMax
}

// ParseGoals reads a -best flag: "loss=min,acc=max".
func ParseGoals(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		name, goal, ok := strings.Cut(kv, "=")
		if !ok || name == "" || (goal != GoalMin && goal != GoalMax) {
			return nil, fmt.Errorf("-best %q: write name=min or name=max, comma-separated (e.g. -best loss=min,acc=max)", kv)
		}
		out[name] = goal
	}
	return out, nil
}

// Better reports whether a is a better value than b for goal.
func Better(goal string, a, b float64) bool {
	if goal == GoalMin {
		return a < b
	}
	return a > b
}

// CompareInput is one run to compare: its identity, params and the usage
// summary holding its metrics (nil when the agent wrote none).
type CompareInput struct {
	ID         string
	Experiment string
	State      string
	Params     []record.Param
	Usage      *record.Usage
}

// Comparison is runs side by side: the params that tell them apart, and
// each metric's last and best value per run.
type Comparison struct {
	Runs []ComparedRun `json:"runs"`
	// Varying are the params whose values differ between the runs (or
	// that some runs lack), sorted; Same are the others, with their value.
	Varying []string       `json:"varying_params"`
	Same    []record.Param `json:"same_params"`
	Metrics []MetricGoal   `json:"metrics"`
	// Best names the best run by Metric, nil when no run has it.
	Best *BestRun `json:"best,omitempty"`
}

// ComparedRun is one run of a Comparison.
type ComparedRun struct {
	ID         string                  `json:"id"`
	Experiment string                  `json:"experiment"`
	State      string                  `json:"state"`
	Params     map[string]string       `json:"params"`
	Metrics    map[string]MetricValues `json:"metrics"`
	// Series are the metrics' down-sampled curves, for plots.
	Series map[string]record.Metric `json:"-"`
}

// MetricValues are a metric's last value and best value (per its goal),
// each with its step.
type MetricValues struct {
	Last  record.MetricPoint `json:"last"`
	Best  record.MetricPoint `json:"best"`
	Count int                `json:"count"`
}

// MetricGoal is a metric the runs wrote and how its best is chosen: Rule
// is "given" when -best set it, else "default" (by its name).
type MetricGoal struct {
	Name string `json:"name"`
	Goal string `json:"goal"`
	Rule string `json:"rule"`
}

// BestRun is the run with the best value of Metric.
type BestRun struct {
	Run    string  `json:"run"`
	Metric string  `json:"metric"`
	Goal   string  `json:"goal"`
	Value  float64 `json:"value"`
	Step   float64 `json:"step"`
}

// Compare sets runs side by side. metric names the metric that decides the
// best run; "" picks one: the first loss-like metric every run wrote, else
// the first metric every run wrote, else the first any run wrote. It is
// pure.
func Compare(runs []CompareInput, goals map[string]string, metric string) Comparison {
	c := Comparison{Runs: make([]ComparedRun, 0, len(runs)), Varying: []string{}, Same: []record.Param{}}
	seen := map[string]int{} // metric → runs that wrote it
	for _, in := range runs {
		cr := ComparedRun{ID: in.ID, Experiment: in.Experiment, State: in.State, Params: map[string]string{},
			Metrics: map[string]MetricValues{}, Series: map[string]record.Metric{}}
		for _, p := range in.Params {
			cr.Params[p.Name] = p.Value
		}
		if in.Usage != nil {
			for _, m := range in.Usage.Metrics {
				if m.Count == 0 {
					continue
				}
				best := m.Max
				if Goal(m.Name, goals) == GoalMin {
					best = m.Min
				}
				cr.Metrics[m.Name] = MetricValues{Last: m.Last, Best: best, Count: m.Count}
				cr.Series[m.Name] = m
				seen[m.Name]++
			}
		}
		c.Runs = append(c.Runs, cr)
	}
	c.Varying, c.Same = splitParams(c.Runs)
	for _, name := range slices.Sorted(maps.Keys(seen)) {
		rule := "default"
		if goals[name] != "" {
			rule = "given"
		}
		c.Metrics = append(c.Metrics, MetricGoal{Name: name, Goal: Goal(name, goals), Rule: rule})
	}
	if metric == "" {
		metric = primaryMetric(c.Metrics, seen, len(runs))
	}
	c.Best = bestRun(c.Runs, metric, Goal(metric, goals))
	return c
}

// splitParams sorts the params into those that tell the runs apart and
// those every run shares.
func splitParams(runs []ComparedRun) (varying []string, same []record.Param) {
	names := map[string]bool{}
	for _, r := range runs {
		for k := range r.Params {
			names[k] = true
		}
	}
	varying = []string{}
	same = []record.Param{}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		v, ok := runs[0].Params[n]
		differs := !ok
		for _, r := range runs[1:] {
			w, ok := r.Params[n]
			differs = differs || !ok || w != v
		}
		if differs {
			varying = append(varying, n)
		} else {
			same = append(same, record.Param{Name: n, Value: v})
		}
	}
	return varying, same
}

func primaryMetric(ms []MetricGoal, seen map[string]int, runs int) string {
	for _, all := range []bool{true, false} {
		for _, m := range ms {
			if m.Goal == GoalMin && strings.Contains(strings.ToLower(m.Name), "loss") && (!all || seen[m.Name] == runs) {
				return m.Name
			}
		}
		for _, m := range ms {
			if !all || seen[m.Name] == runs {
				return m.Name
			}
		}
	}
	return ""
}

func bestRun(runs []ComparedRun, metric, goal string) *BestRun {
	var b *BestRun
	for _, r := range runs {
		v, ok := r.Metrics[metric]
		if !ok || math.IsNaN(v.Best.Value) {
			continue
		}
		if b == nil || Better(goal, v.Best.Value, b.Value) {
			b = &BestRun{Run: r.ID, Metric: metric, Goal: goal, Value: v.Best.Value, Step: v.Best.Step}
		}
	}
	return b
}

// FormatValue writes a metric value compactly: 4 significant digits.
func FormatValue(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return cmp.Or(strings.TrimSpace(fmt.Sprintf("%.4g", v)), "0")
}
