package agent

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/caravan-ml/caravan/internal/gpu"
)

func i64(v int64) *int64 { return &v }

// pluginStats is shaped like the nvidia device plugin's stats for one GPU.
func pluginStats(util, memUsed, memTotal, temp, power, limit int64) *api.DeviceStats {
	return &api.DeviceStats{Stats: &api.StatObject{Attributes: map[string]*api.StatValue{
		"GPU utilization":    {IntNumeratorVal: i64(util), Unit: "%"},
		"Memory utilization": {IntNumeratorVal: i64(util / 2), Unit: "%"},
		"Memory state":       {IntNumeratorVal: i64(memUsed), IntDenominatorVal: i64(memTotal), Unit: "MiB"},
		"Temperature":        {IntNumeratorVal: i64(temp), Unit: "C"},
		"Power usage":        {IntNumeratorVal: i64(power), IntDenominatorVal: i64(limit), Unit: "W"},
		"ECC L1 errors":      {StringVal: strPtr("N/A")},
	}}}
}

func strPtr(s string) *string { return &s }

func TestFallbackToNomadDeviceStats(t *testing.T) {
	fn := newFakeNomad()
	fn.host = &api.HostStats{DeviceStats: []*api.DeviceGroupStats{{Vendor: "nvidia", Type: "gpu", Name: "Tesla T4",
		InstanceStats: map[string]*api.DeviceStats{
			"GPU-bbbb": pluginStats(90, 1000, 15360, 60, 50, 70),
			"GPU-aaaa": pluginStats(10, 100, 15360, 40, 20, 70),
		}}}}
	fn.allocs[allocA].AllocatedResources.Tasks["train"].Devices[0].DeviceIDs = []string{"GPU-bbbb"}
	a := New(Config{Node: "n1", NodeID: nodeID, Pool: "t4", ProcRoot: "testdata/proc", GPUErr: gpu.ErrUnavailable, Nomad: fn, Now: newClock().Now})
	c := NewCollector(a)
	const want = `
# HELP caravan_gpu_utilization_ratio Fraction of the last sample period during which a kernel ran on the GPU.
# TYPE caravan_gpu_utilization_ratio gauge
caravan_gpu_utilization_ratio{gpu="0",model="Tesla T4",node="n1",pool="t4",uuid="GPU-aaaa"} 0.1
caravan_gpu_utilization_ratio{gpu="1",model="Tesla T4",node="n1",pool="t4",uuid="GPU-bbbb"} 0.9
# HELP caravan_run_gpu_utilization_ratio Utilisation of a GPU held by a run.
# TYPE caravan_run_gpu_utilization_ratio gauge
caravan_run_gpu_utilization_ratio{alloc="6d5a3b0e-1111-4a2b-8c3d-000000000001",experiment="resnet50",gpu="1",model="Tesla T4",node="n1",pool="t4",run="resnet50-1a2b3c4d",uuid="GPU-bbbb"} 0.9
# HELP caravan_gpu_memory_used_bytes GPU memory in use.
# TYPE caravan_gpu_memory_used_bytes gauge
caravan_gpu_memory_used_bytes{gpu="0",model="Tesla T4",node="n1",pool="t4",uuid="GPU-aaaa"} 1.048576e+08
caravan_gpu_memory_used_bytes{gpu="1",model="Tesla T4",node="n1",pool="t4",uuid="GPU-bbbb"} 1.048576e+09
# HELP caravan_gpu_power_limit_watts GPU enforced power limit.
# TYPE caravan_gpu_power_limit_watts gauge
caravan_gpu_power_limit_watts{gpu="0",model="Tesla T4",node="n1",pool="t4",uuid="GPU-aaaa"} 70
caravan_gpu_power_limit_watts{gpu="1",model="Tesla T4",node="n1",pool="t4",uuid="GPU-bbbb"} 70
# HELP caravan_agent_source_success Whether the last read of a source (nvml, nvml_events or nomad) succeeded.
# TYPE caravan_agent_source_success gauge
caravan_agent_source_success{node="n1",pool="t4",source="nomad"} 1
caravan_agent_source_success{node="n1",pool="t4",source="nvml"} 0
`
	err := testutil.CollectAndCompare(c, strings.NewReader(want), "caravan_gpu_utilization_ratio", "caravan_run_gpu_utilization_ratio",
		"caravan_gpu_memory_used_bytes", "caravan_gpu_power_limit_watts", "caravan_agent_source_success")
	if err != nil {
		t.Error(err)
	}
}

// TestClientStatsFixture decodes a real Nomad client stats response: a
// device plugin whose stats are not the nvidia plugin's yields GPUs with
// identities but no readings, never bogus numbers.
func TestClientStatsFixture(t *testing.T) {
	b, err := os.ReadFile("../../../shared/nomad-api-fixtures/get-client-stats.json")
	if err != nil {
		t.Skip("nomad API fixtures not present next to the repository")
	}
	var hs api.HostStats
	if err := json.Unmarshal(b, &hs); err != nil {
		t.Fatal(err)
	}
	gpus := gpusFromNomad(hs.DeviceStats)
	if len(gpus) != 2 || gpus[0].UUID != "gpu0" || gpus[1].Name != "H100-SIM" || gpus[0].Source != "nomad" {
		t.Fatalf("gpus = %+v", gpus)
	}
	if gpus[0].MemTotal != 0 || gpus[0].Util == gpus[0].Util { // NaN != NaN
		t.Errorf("a plugin without nvidia stats must give no readings: %+v", gpus[0].Stats)
	}
	fn := newFakeNomad()
	fn.host = &hs
	a := New(Config{Node: "gpu-node-1", NodeID: nodeID, ProcRoot: "testdata/proc", Nomad: fn})
	s := a.Snapshot(context.Background())
	if len(s.GPUs) != 2 || !s.NomadOK {
		t.Errorf("snapshot from fixture: %d GPUs, nomad ok %v", len(s.GPUs), s.NomadOK)
	}
}
