package agentcmd

import (
	"cmp"
	"context"
	"log/slog"
	"os"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
)

// localNomad is what the agent asks the local Nomad agent about its node.
// *nomad.Client satisfies it.
type localNomad interface {
	LocalAgent(ctx context.Context) (nomad.LocalAgent, error)
	Node(ctx context.Context, nodeID string) (*api.Node, error)
}

// Where a part of the node's identity came from, for the log.
const (
	fromFlag  = "flag or environment"
	fromNomad = "local Nomad agent"
	fromHost  = "host name"
	fromNone  = "none"
)

// identity is the node the agent runs on, and what else the local Nomad
// agent said that the agent uses.
type identity struct {
	NodeFrom, NodeIDFrom, PoolFrom string
	AllocDir, CgroupParent         string
}

// identify fills in what the flags left out of the node's identity (-node,
// -node-id, -pool) from the local Nomad agent at addr, and logs where each
// part came from. Without a node ID the agent lists no allocations and
// finds runs only through their GPU processes, so failing to learn it is
// a warning that says how to fix it; the agent still serves what it can.
// c is nil with -no-nomad.
func identify(ctx context.Context, c localNomad, addr string, f *Flags, log *slog.Logger) identity {
	id := identity{NodeFrom: fromFlag, NodeIDFrom: fromFlag, PoolFrom: fromFlag}
	var la nomad.LocalAgent
	if c != nil {
		var err error
		la, err = c.LocalAgent(ctx)
		given := f.NodeID != "" && f.Node != "" && f.Pool != ""
		switch {
		case given && (err != nil || !la.Client):
			// The flags say who the node is; only the allocation directory is
			// unknown, and the runs' processes lead to their metrics files.
			log.Info("the local Nomad agent does not describe this node; using the flags", "address", addr, "err", err)
		case err != nil:
			log.Warn("cannot read the local Nomad agent, so this node's identity is unknown: runs are found only through their GPU processes, and metrics carry the host name; fix -nomad-addr, or pass -node-id, -node and -pool",
				"address", addr, "err", err)
		case !la.Client:
			log.Warn("the Nomad agent at -nomad-addr runs no client (a server only), so it cannot say which node this is: this node's runs are not listed; point -nomad-addr at this node's own client agent, or pass -node-id, -node and -pool",
				"address", addr)
		case f.NodeID != "" && la.NodeID != "" && f.NodeID != la.NodeID:
			log.Warn("-node-id is not the node of the Nomad agent at -nomad-addr: the runs listed are those of -node-id, while Nomad's client stats come from the agent's node",
				"node_id", f.NodeID, "agent_node_id", la.NodeID, "address", addr)
		}
		id.AllocDir, id.CgroupParent = la.AllocDir, la.CgroupParent
	}
	if f.NodeID == "" {
		f.NodeID, id.NodeIDFrom = la.NodeID, fromNomad
	}
	if c != nil && la.NodeID != "" && ((f.Node == "" && la.NodeName == "") || (f.Pool == "" && la.NodePool == "")) {
		// A dev agent leaves its node name to the host name, which only the
		// node itself records.
		if n, err := c.Node(ctx, la.NodeID); err == nil {
			la.NodeName = cmp.Or(la.NodeName, n.Name)
			la.NodePool = cmp.Or(la.NodePool, n.NodePool)
		}
	}
	if f.Node == "" {
		f.Node, id.NodeFrom = la.NodeName, fromNomad
	}
	if f.Pool == "" {
		f.Pool, id.PoolFrom = la.NodePool, fromNomad
	}
	if f.Node == "" {
		if h, err := os.Hostname(); err == nil {
			f.Node, id.NodeFrom = h, fromHost
		}
	}
	for _, p := range []struct {
		v    string
		from *string
	}{{f.NodeID, &id.NodeIDFrom}, {f.Pool, &id.PoolFrom}, {f.Node, &id.NodeFrom}} {
		if p.v == "" {
			*p.from = fromNone
		}
	}
	log.Info("node identity", "node", f.Node, "node_from", id.NodeFrom, "node_id", f.NodeID, "node_id_from", id.NodeIDFrom,
		"pool", f.Pool, "pool_from", id.PoolFrom)
	return id
}
