package nomad

import (
	"encoding/json"
	"testing"

	"github.com/hashicorp/nomad/api"
)

func TestLocalAgentOf(t *testing.T) {
	tests := []struct {
		name, self string
		want       LocalAgent
	}{
		// /v1/agent/self of the rig's GPU client, cut to what is read.
		{"client", `{"config": {"NodeName": "gpu-node-1", "DataDir": "/tmp/rig/gpu/data", "Client": {"Enabled": true, "NodePool": "gpu", "AllocDir": "", "CgroupParent": ""}, "Server": {"Enabled": false}},
		 "stats": {"client": {"node_id": "0bc29953-745f-92f1-1196-74d3f501d018"}}}`,
			LocalAgent{Client: true, NodeID: "0bc29953-745f-92f1-1196-74d3f501d018", NodeName: "gpu-node-1", NodePool: "gpu", AllocDir: "/tmp/rig/gpu/data/alloc"}},
		// A dev agent (server and client): no node name, no data dir.
		{"dev", `{"config": {"NodeName": "", "DataDir": "", "Client": {"Enabled": true, "NodePool": "default", "AllocDir": "/opt/allocs"}, "Server": {"Enabled": true}},
		 "stats": {"client": {"node_id": "9fce3e4e-91a3-e9ab-185f-395d49f44dc0"}}}`,
			LocalAgent{Client: true, Server: true, NodeID: "9fce3e4e-91a3-e9ab-185f-395d49f44dc0", NodePool: "default", AllocDir: "/opt/allocs"}},
		{"server only", `{"config": {"NodeName": "s1", "DataDir": "/var/nomad", "Client": {"Enabled": false}, "Server": {"Enabled": true}}, "stats": {"nomad": {}}}`,
			LocalAgent{Server: true}},
		{"garbage", `{"config": {"Client": "yes"}}`, LocalAgent{}},
	}
	for _, tt := range tests {
		var self api.AgentSelf
		if err := json.Unmarshal([]byte(tt.self), &self); err != nil {
			t.Fatal(err)
		}
		if got := localAgentOf(&self); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
