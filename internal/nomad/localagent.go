package nomad

import (
	"context"
	"path/filepath"

	"github.com/hashicorp/nomad/api"
)

// LocalAgent is what the Nomad agent at the client's address says about
// itself (/v1/agent/self): whether it runs a client, and the client's node.
type LocalAgent struct {
	Client bool // the agent runs a client (a node)
	Server bool // the agent runs a server
	// NodeID, NodeName and NodePool describe the client's node; "" when
	// the agent runs no client or does not say (a dev agent leaves
	// NodeName to the host name, which only the node itself records).
	NodeID   string
	NodeName string
	NodePool string
	// AllocDir is where the client keeps allocation directories on its
	// host: its alloc_dir, else data_dir/alloc; "" when unknown.
	AllocDir string
	// CgroupParent is the client's cgroup_parent; "" for Nomad's default.
	CgroupParent string
}

// LocalAgent reads the agent at the client's address. Its policy needs
// agent:read.
func (c *Client) LocalAgent(ctx context.Context) (LocalAgent, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	var self api.AgentSelf
	if _, err := c.api.Raw().Query("/v1/agent/self", &self, c.q(ctx, "")); err != nil {
		return LocalAgent{}, c.fail(op{what: "read the local agent", thing: "agent endpoint (is this address a Nomad agent?)", need: "agent:read", ns: c.namespace}, err)
	}
	return localAgentOf(&self), nil
}

func localAgentOf(self *api.AgentSelf) LocalAgent {
	var la LocalAgent
	str := func(m map[string]any, k string) string {
		s, _ := m[k].(string)
		return s
	}
	client, _ := self.Config["Client"].(map[string]any)
	server, _ := self.Config["Server"].(map[string]any)
	la.Client, _ = client["Enabled"].(bool)
	la.Server, _ = server["Enabled"].(bool)
	if !la.Client {
		return la
	}
	la.NodeID = self.Stats["client"]["node_id"]
	la.NodeName = str(self.Config, "NodeName")
	la.NodePool = str(client, "NodePool")
	la.AllocDir = str(client, "AllocDir")
	la.CgroupParent = str(client, "CgroupParent")
	if dd := str(self.Config, "DataDir"); la.AllocDir == "" && dd != "" {
		la.AllocDir = filepath.Join(dd, "alloc")
	}
	return la
}
