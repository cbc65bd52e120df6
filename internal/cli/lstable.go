package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report"
)

// lsWidth is the width ls fits its lines into when neither COLUMNS nor a
// terminal says more.
const lsWidth = 80

// defaultColumns are ls's columns unless -columns says otherwise.
var defaultColumns = []string{"id", "experiment", "state", "pool", "gpus", "priority", "age", "runtime", "params"}

// lsFields are the columns that are fields of a run (the others are
// params and metrics).
var lsFields = []string{"id", "experiment", "state", "pool", "gpus", "priority", "age", "runtime", "submitted", "params", "project", "namespace"}

// lsColumn is one column ls can print and sort by: a field of the run, one
// of its params, or one of the metrics it wrote.
type lsColumn struct {
	key  string // field name, "param:NAME" or "metric:NAME"
	head string
	// right aligns numbers; max bounds the natural width of a column that
	// may be cut (0: never cut, as the ID, which people copy).
	right bool
	max   int
}

func (c lsColumn) param() (string, bool)  { return strings.CutPrefix(c.key, "param:") }
func (c lsColumn) metric() (string, bool) { return strings.CutPrefix(c.key, "metric:") }

// resolveColumn turns a name given to -columns or -sort into a column: a
// field, "param:NAME", "metric:NAME", or a bare name, which is a param
// when some run has a param by that name and else a metric.
func resolveColumn(name string, rows []query.Run) (lsColumn, error) {
	name = strings.TrimSpace(name)
	if name == "prio" {
		name = "priority"
	}
	switch {
	case name == "":
		return lsColumn{}, fmt.Errorf("an empty column name; name fields (%s), params or metrics", strings.Join(lsFields, ", "))
	case slices.Contains(lsFields, name):
		c := lsColumn{key: name, head: strings.ToUpper(name)}
		switch name {
		case "experiment":
			c.max = 16
		case "pool":
			c.max = 12
		case "gpus", "age", "runtime":
			c.right = true
		case "priority":
			c.head, c.right = "PRIO", true
		}
		return c, nil
	}
	if p, ok := strings.CutPrefix(name, "param:"); ok && p != "" {
		return lsColumn{key: name, head: p, max: 24}, nil
	}
	if m, ok := strings.CutPrefix(name, "metric:"); ok && m != "" {
		return lsColumn{key: name, head: m, right: true}, nil
	}
	for _, r := range rows {
		for _, p := range r.Params {
			if p.Name == name {
				return lsColumn{key: "param:" + name, head: name, max: 24}, nil
			}
		}
	}
	return lsColumn{key: "metric:" + name, head: name, right: true}, nil
}

// lsTable is how ls prints rows: its columns, the width to fit and what
// the cells need.
type lsTable struct {
	cols  []lsColumn
	width int // 0: no limit
	now   time.Time
	// usages holds the runs' metrics, read only when a column or the sort
	// names one.
	usages map[string]*record.Usage
	// varying are the params whose values differ between the rows: they
	// come first in PARAMS, so that cutting the column keeps them.
	varying map[string]bool
}

// newLsTable is the table of rows with the named columns, fitting width
// (0: no limit).
func newLsTable(rows []query.Run, names []string, width int, now time.Time) (*lsTable, error) {
	t := &lsTable{width: width, now: now, varying: varyingParams(rows)}
	for _, n := range names {
		c, err := resolveColumn(n, rows)
		if err != nil {
			return nil, err
		}
		t.cols = append(t.cols, c)
	}
	return t, nil
}

// cell is column c of run r as text.
func (t *lsTable) cell(c lsColumn, r query.Run) string {
	if p, ok := c.param(); ok {
		return paramOf(r, p, "-")
	}
	if m, ok := c.metric(); ok {
		if v, ok := metricOf(t.usages[r.ID], m); ok {
			return report.FormatValue(v)
		}
		return "-"
	}
	switch c.key {
	case "id":
		return r.ID
	case "experiment":
		return r.Experiment
	case "state":
		return string(r.State)
	case "pool":
		return r.Pool
	case "gpus":
		return strconv.Itoa(r.GPUs)
	case "priority":
		if r.Priority == 0 {
			return "-"
		}
		return strconv.Itoa(r.Priority)
	case "age":
		if r.Submitted.IsZero() {
			return "-"
		}
		return shortDuration(t.now.Sub(r.Submitted))
	case "runtime":
		if d := r.Runtime(t.now); d > 0 {
			return shortDuration(d)
		}
		return "-"
	case "submitted":
		if r.Submitted.IsZero() {
			return "-"
		}
		return r.Submitted.UTC().Format("2006-01-02 15:04")
	case "project":
		return cmpOr(r.Project, "-")
	case "namespace":
		return r.Namespace
	case "params":
		return t.params(r)
	}
	return ""
}

// params is the PARAMS cell: the params that differ between the rows
// first, then the others, each name=value.
func (t *lsTable) params(r query.Run) string {
	var first, rest []string
	for _, p := range r.Params {
		if t.varying[p.Name] {
			first = append(first, p.Name+"="+p.Value)
		} else {
			rest = append(rest, p.Name+"="+p.Value)
		}
	}
	return strings.Join(append(first, rest...), " ")
}

// varyingWidth is the width of the params that differ, in the widest row.
func (t *lsTable) varyingWidth(rows []query.Run) int {
	w := 0
	for _, r := range rows {
		n := -1
		for _, p := range r.Params {
			if t.varying[p.Name] {
				n += 1 + len(p.Name) + 1 + len(p.Value)
			}
		}
		w = max(w, n)
	}
	return w
}

// varyingParams are the params whose values differ between rows, or that
// some rows lack.
func varyingParams(rows []query.Run) map[string]bool {
	values := map[string]map[string]bool{}
	count := map[string]int{}
	for _, r := range rows {
		for _, p := range r.Params {
			if values[p.Name] == nil {
				values[p.Name] = map[string]bool{}
			}
			values[p.Name][p.Value] = true
			count[p.Name]++
		}
	}
	out := map[string]bool{}
	for n, vs := range values {
		if len(vs) > 1 || count[n] < len(rows) {
			out[n] = true
		}
	}
	return out
}

// write prints the rows within t.width: an ID is never cut; when the line
// is too long, PARAMS first loses the params every row shares, then the
// experiment and pool narrow (the experiment goes: the ID starts with its
// name), and only then are the params that tell runs apart cut.
func (t *lsTable) write(w io.Writer, rows []query.Run) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "No runs.")
		return
	}
	widths := make([]int, len(t.cols))
	cells := make([][]string, len(rows))
	for i, c := range t.cols {
		widths[i] = len(c.head)
	}
	for j, r := range rows {
		cells[j] = make([]string, len(t.cols))
		for i, c := range t.cols {
			cells[j][i] = t.cell(c, r)
			widths[i] = max(widths[i], len(cells[j][i]))
		}
	}
	for i, c := range t.cols {
		if c.max > 0 {
			widths[i] = min(widths[i], max(c.max, len(c.head)))
		}
	}
	shown := t.fit(widths, rows)
	line := func(get func(i int) string) string {
		var b strings.Builder
		for i, c := range t.cols {
			if !shown[i] {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			s := clip(get(i), widths[i])
			if c.right {
				fmt.Fprintf(&b, "%*s", widths[i], s)
			} else {
				fmt.Fprintf(&b, "%-*s", widths[i], s)
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	fmt.Fprintln(w, line(func(i int) string { return t.cols[i].head }))
	for j, r := range rows {
		fmt.Fprintln(w, line(func(i int) string { return cells[j][i] }))
		if r.Wait != nil && !r.HasJob {
			// A run with no job yet: what it waits for, on a line of
			// its own, where it need not be cut.
			s := "  " + r.Wait.Text()
			if t.width > 0 {
				s = clip(s, t.width)
			}
			fmt.Fprintln(w, s)
		}
	}
}

// fit narrows widths (in place) until a line fits t.width, and says which
// columns are shown.
func (t *lsTable) fit(widths []int, rows []query.Run) []bool {
	shown := make([]bool, len(widths))
	for i := range shown {
		shown[i] = true
	}
	if t.width <= 0 {
		return shown
	}
	total := func() int {
		n := -1
		for i, w := range widths {
			if shown[i] {
				n += w + 1
			}
		}
		return n
	}
	at := func(key string) int {
		return slices.IndexFunc(t.cols, func(c lsColumn) bool { return c.key == key })
	}
	shrink := func(i, floor int) {
		if i >= 0 && shown[i] && total() > t.width {
			widths[i] = max(floor, widths[i]-(total()-t.width))
		}
	}
	hide := func(i int) {
		if i >= 0 && total() > t.width {
			shown[i] = false
		}
	}
	p, e, pool, prio := at("params"), at("experiment"), at("pool"), at("priority")
	natural := 0
	if p >= 0 {
		natural = widths[p]
		shrink(p, max(t.varyingWidth(rows), minParamsWidth))
	}
	if pool >= 0 {
		shrink(pool, min(widths[pool], 6))
	}
	if e >= 0 {
		shrink(e, min(widths[e], len("EXPERIMENT")))
	}
	if p >= 0 {
		shrink(p, max(t.varyingWidth(rows), len("PARAMS")))
	}
	// A line that still does not fit loses what matters least: the
	// priority (most runs have the default), the experiment (each ID
	// starts with it), and last the params.
	hide(prio)
	hide(e)
	if p >= 0 {
		shrink(p, 3)
		hide(p)
		if room := t.width - total(); shown[p] && room > 0 {
			widths[p] = min(natural, widths[p]+room)
		}
	}
	return shown
}

// minParamsWidth is what PARAMS keeps before the experiment and pool
// columns narrow, when no param tells the rows apart (a single run).
const minParamsWidth = 16

// outputWidth is the width ls fits into: COLUMNS when set, else the
// terminal's when stdout is one, else lsWidth.
func outputWidth(env Env) int {
	if n, err := strconv.Atoi(strings.TrimSpace(env.Getenv("COLUMNS"))); err == nil && n > 0 {
		return n
	}
	if f, ok := rawOf(env.Stdout).(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return lsWidth
}

// clip shortens s to n columns, marking the cut with "~".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 1 {
		return s[:max(n, 0)]
	}
	return s[:n-1] + "~"
}
