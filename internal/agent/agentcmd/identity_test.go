package agentcmd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
)

// fakeLocal is a local Nomad agent that says what it is given.
type fakeLocal struct {
	la    nomad.LocalAgent
	err   error
	node  *api.Node
	nodes int // Node calls
}

func (f *fakeLocal) LocalAgent(context.Context) (nomad.LocalAgent, error) { return f.la, f.err }

func (f *fakeLocal) Node(_ context.Context, id string) (*api.Node, error) {
	f.nodes++
	if f.node == nil || f.node.ID != id {
		return nil, errors.New("no such node")
	}
	return f.node, nil
}

var gpuClient = nomad.LocalAgent{Client: true, NodeID: "0bc29953-745f-92f1-1196-74d3f501d018", NodeName: "gpu-node-1", NodePool: "gpu", AllocDir: "/data/alloc"}

func TestIdentify(t *testing.T) {
	host, _ := os.Hostname()
	tests := []struct {
		name               string
		local              *fakeLocal
		flags              Flags
		node, nodeID, pool string
		allocDir           string
		logs               []string // in the log, warnings included
		quiet              bool     // no warning
	}{
		{name: "a client fills in what the flags leave out", local: &fakeLocal{la: gpuClient},
			node: "gpu-node-1", nodeID: gpuClient.NodeID, pool: "gpu", allocDir: "/data/alloc", quiet: true,
			logs: []string{"node_from=\"local Nomad agent\"", "node_id_from=\"local Nomad agent\"", "pool_from=\"local Nomad agent\""}},
		{name: "flags win", local: &fakeLocal{la: gpuClient}, flags: Flags{Node: "n", Pool: "p"},
			node: "n", nodeID: gpuClient.NodeID, pool: "p", allocDir: "/data/alloc", quiet: true,
			logs: []string{"node=n node_from=\"flag or environment\"", "pool=p pool_from=\"flag or environment\""}},
		{name: "a dev agent's node name comes from its node",
			local: &fakeLocal{la: nomad.LocalAgent{Client: true, Server: true, NodeID: "n1", NodePool: "default"}, node: &api.Node{ID: "n1", Name: "laptop", NodePool: "default"}},
			node:  "laptop", nodeID: "n1", pool: "default", quiet: true},
		{name: "a server-only agent is named, with the fix", local: &fakeLocal{la: nomad.LocalAgent{Server: true}},
			node: host, pool: "", nodeID: "",
			logs: []string{"runs no client (a server only)", "point -nomad-addr at this node's own client agent", "node_id_from=none", "node_from=\"host name\""}},
		{name: "an unreachable agent is a warning", local: &fakeLocal{err: errors.New("connection refused")},
			node: host, logs: []string{"cannot read the local Nomad agent", "connection refused", "fix -nomad-addr"}},
		{name: "a server-only agent with every flag given is fine", local: &fakeLocal{la: nomad.LocalAgent{Server: true}},
			flags: Flags{Node: "n", NodeID: "id", Pool: "p"}, node: "n", nodeID: "id", pool: "p", quiet: true},
		{name: "a -node-id of another node", local: &fakeLocal{la: gpuClient}, flags: Flags{NodeID: "other"},
			node: "gpu-node-1", nodeID: "other", pool: "gpu", allocDir: "/data/alloc", logs: []string{"-node-id is not the node of the Nomad agent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			f := tt.flags
			id := identify(context.Background(), tt.local, "http://127.0.0.1:5656", &f, log)
			if f.Node != tt.node || f.NodeID != tt.nodeID || f.Pool != tt.pool || id.AllocDir != tt.allocDir {
				t.Errorf("node %q id %q pool %q alloc dir %q; want %q %q %q %q", f.Node, f.NodeID, f.Pool, id.AllocDir, tt.node, tt.nodeID, tt.pool, tt.allocDir)
			}
			out := buf.String()
			for _, w := range tt.logs {
				if !strings.Contains(out, w) {
					t.Errorf("log lacks %q:\n%s", w, out)
				}
			}
			if warned := strings.Contains(out, "level=WARN"); warned == tt.quiet {
				t.Errorf("warned %v, want %v:\n%s", warned, !tt.quiet, out)
			}
		})
	}
	// Without Nomad (-no-nomad) there is nothing to ask.
	f := Flags{}
	identify(context.Background(), nil, "", &f, slog.New(slog.DiscardHandler))
	if f.Node != host || f.NodeID != "" {
		t.Errorf("-no-nomad: node %q id %q", f.Node, f.NodeID)
	}
}
