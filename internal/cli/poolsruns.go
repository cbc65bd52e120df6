package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
)

// poolRow is one node pool as `caravan pools` shows it where no
// autoscaler keeps pool records: its nodes and GPUs from Nomad, its runs,
// and the GPU time they held in the last day, from their records.
type poolRow struct {
	NodePool   string   `json:"node_pool"`
	Pools      []string `json:"pools"` // caravan pools whose runs went there
	NodesReady int      `json:"nodes_ready"`
	NodesDrain int      `json:"nodes_draining"`
	NodesDown  int      `json:"nodes_down"`
	GPUsBusy   int      `json:"gpus_busy"`
	GPUsFree   int      `json:"gpus_free"`
	Queued     int      `json:"queued_runs"`
	Running    int      `json:"running_runs"`
	GPUSeconds float64  `json:"gpu_seconds_24h"`
	Dollars    float64  `json:"dollars_24h"`
}

// poolsFromCluster reads what poolRows needs.
func poolsFromCluster(ctx context.Context, cl *nomad.Client, now time.Time) ([]poolRow, error) {
	view, err := query.List(ctx, cl, query.Scope{Namespace: nomad.AllNamespaces, AllProjects: true}, query.Full)
	if err != nil {
		return nil, err
	}
	nodes, err := cl.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	blocked, err := cl.BlockedEvaluations(ctx, nomad.AllNamespaces)
	if err != nil {
		return nil, err
	}
	return poolRows(view, nodes, blocked, now), nil
}

// poolRows is status's per-node-pool view with the GPU time of each pool's
// runs over the last day. It is pure.
func poolRows(view *query.Runs, nodes []*api.NodeListStub, blocked []*api.Evaluation, now time.Time) []poolRow {
	used := costFromRuns(view.Rows, now.Add(-24*time.Hour), now, now)
	byPool := map[string]poolCost{}
	for _, p := range used.Pools {
		byPool[p.Pool] = p
	}
	var out []poolRow
	for _, p := range poolStatuses(view, nodes, blocked, now) {
		r := poolRow{NodePool: p.NodePool, Pools: p.Pools, NodesReady: p.NodesReady, NodesDrain: p.NodesDrain, NodesDown: p.NodesDown,
			GPUsBusy: p.GPUsTotal - p.GPUsFree, GPUsFree: p.GPUsFree, Queued: p.Queued, Running: p.Running}
		if r.Pools == nil {
			r.Pools = []string{}
		}
		for _, name := range p.Pools {
			r.GPUSeconds += byPool[name].AllocatedGPUSeconds
			r.Dollars += byPool[name].Dollars
		}
		out = append(out, r)
	}
	return out
}

func writePoolRows(w io.Writer, rows []poolRow) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "No node pools with nodes or runs.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE POOL\tCARAVAN POOLS\tREADY\tDRAINING\tDOWN\tGPUS BUSY/FREE\tQUEUED\tRUNNING\tGPU-HOURS 24H\tCOST 24H")
	for _, r := range rows {
		pools := strings.Join(r.Pools, ",")
		if pools == "" {
			pools = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d/%d\t%d\t%d\t%.2f\t%s\n", r.NodePool, pools, r.NodesReady, r.NodesDrain, r.NodesDown,
			r.GPUsBusy, r.GPUsFree, r.Queued, r.Running, r.GPUSeconds/3600, dollars(r.Dollars))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nNo autoscaler records: these pools are as Nomad and the runs' records show them. `caravan autoscale POOLSDIR` adds each pool's decisions and what its nodes cost.")
}
