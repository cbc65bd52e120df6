//go:build cgo && linux

package agent

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/hashicorp/nomad/api"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/caravan-ml/caravan/internal/gpu"
	"github.com/caravan-ml/caravan/internal/gpu/nvmlmock"
	"github.com/caravan-ml/caravan/internal/testutil/golden"
)

// testNode is an agent over a mock NVML and a fake Nomad.
type testNode struct {
	agent *Agent
	mock  *nvmlmock.Mock
	nomad *fakeNomad
	clock *fakeClock
}

func newTestNode(t testing.TB, o nvmlmock.Options, timeout time.Duration, tweak func(*nvmlmock.Mock)) *testNode {
	t.Helper()
	m := nvmlmock.New(o)
	if tweak != nil {
		tweak(m)
	}
	n, err := gpu.OpenLib(m)
	if err != nil {
		t.Fatal(err)
	}
	fn := newFakeNomad()
	clk := newClock()
	a := New(Config{Node: "gpu-node-1", NodeID: nodeID, Pool: "a100", ProcRoot: "testdata/proc", CgroupRoot: "testdata/no-cgroups",
		GPU: gpu.NewReader(n, timeout), Nomad: fn, Now: clk.Now})
	return &testNode{agent: a, mock: m, nomad: fn, clock: clk}
}

func TestScrapeGolden(t *testing.T) {
	tn := newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 2}, time.Second, nil)
	tn.mock.InjectXID(1, 79)
	c := NewCollector(tn.agent)
	golden.Check(t, filepath.Join("testdata", "scrape.golden"), []byte(scrape(t, c)))
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestScrapeSurvivesHungAndFailingDevices(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	tn := newTestNode(t, nvmlmock.Options{GPUs: 3, ProcsPerGPU: 1}, 50*time.Millisecond, func(m *nvmlmock.Mock) {
		m.Device(1).GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) {
			<-release
			return nvml.Memory{}, nvml.SUCCESS
		}
		m.Device(2).GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{}, nvml.ERROR_GPU_IS_LOST
		}
	})
	c := NewCollector(tn.agent)
	var text string
	for range 3 {
		text = scrape(t, c)
	}
	for _, want := range []string{
		`caravan_gpu_utilization_ratio{gpu="0",model="NVIDIA H100 80GB HBM3",node="gpu-node-1",pool="a100",uuid="GPU-00000000-0000-4000-8000-000000000000"} 0.05`,
		`caravan_gpu_read_failures_total{gpu="1",model="NVIDIA H100 80GB HBM3",node="gpu-node-1",pool="a100",reason="timeout",uuid="GPU-00000000-0000-4000-8000-000000000001"} 3`,
		`caravan_gpu_read_failures_total{gpu="2",model="NVIDIA H100 80GB HBM3",node="gpu-node-1",pool="a100",reason="error",uuid="GPU-00000000-0000-4000-8000-000000000002"} 3`,
		`caravan_gpu_info{gpu="1",model="NVIDIA H100 80GB HBM3",node="gpu-node-1",pool="a100",source="nvml",uuid="GPU-00000000-0000-4000-8000-000000000001"} 1`,
		`caravan_agent_source_success{node="gpu-node-1",pool="a100",source="nvml"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	for _, gpuIdx := range []string{"1", "2"} {
		if strings.Contains(text, `caravan_gpu_utilization_ratio{gpu="`+gpuIdx+`"`) {
			t.Errorf("GPU %s did not read, yet has a utilisation series", gpuIdx)
		}
	}
	if h := tn.agent.cfg.GPU.Hung(); h != 1 {
		t.Errorf("%d reads outstanding, want exactly 1 (the hung device, never re-read)", h)
	}
}

func TestScrapeReportsNomadFailure(t *testing.T) {
	tn := newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 2}, time.Second, nil)
	tn.nomad.listErr = errDown
	text := scrape(t, NewCollector(tn.agent))
	if !strings.Contains(text, `caravan_agent_source_success{node="gpu-node-1",pool="a100",source="nomad"} 0`) {
		t.Error("nomad source must report failure")
	}
	// Without Nomad the processes cannot be tied to runs: all unattributed.
	if strings.Contains(text, "caravan_run_gpu_utilization_ratio{") {
		t.Error("no run series without Nomad")
	}
	if !strings.Contains(text, `caravan_gpu_unattributed_process_memory_used_bytes{comm="python",gpu="0"`) {
		t.Error("processes must be reported unattributed when Nomad is down")
	}
}

func TestAllocLookupsAreCached(t *testing.T) {
	tn := newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 2}, time.Second, nil)
	tn.agent.cfg.NodeID = "" // no node list: lookups by allocation ID
	for range 5 {
		tn.agent.Snapshot(context.Background())
		tn.clock.Advance(5 * time.Second)
	}
	if n := tn.nomad.calls["Allocation"]; n != 2 {
		t.Errorf("Allocation called %d times over 5 snapshots; want 2 (one per allocation)", n)
	}
	s := tn.agent.Snapshot(context.Background())
	if len(s.Allocs) != 2 || s.Allocs[0].ID != allocA || s.Allocs[1].ID != allocB {
		t.Fatalf("allocs found through processes: %+v", s.Allocs)
	}
}

// When NVML is loaded but every device read fails, the device plugin's
// view stands in, and the failures are still counted.
func TestScrapeFallsBackWhenEveryNVMLReadFails(t *testing.T) {
	tn := newTestNode(t, nvmlmock.Options{GPUs: 2, ProcsPerGPU: 1}, time.Second, func(m *nvmlmock.Mock) {
		for i := range 2 {
			m.Device(i).GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
				return nvml.Utilization{}, nvml.ERROR_UNKNOWN
			}
		}
	})
	tn.nomad.host = &api.HostStats{DeviceStats: []*api.DeviceGroupStats{{Vendor: "nvidia", Type: "gpu", Name: "H100",
		InstanceStats: map[string]*api.DeviceStats{nvmlmock.UUID(0): pluginStats(70, 2048, 81920, 50, 400, 700)}}}}
	text := scrape(t, NewCollector(tn.agent))
	for _, want := range []string{
		`caravan_gpu_utilization_ratio{gpu="0",model="H100",node="gpu-node-1",pool="a100",uuid="GPU-00000000-0000-4000-8000-000000000000"} 0.7`,
		`caravan_gpu_info{gpu="0",model="H100",node="gpu-node-1",pool="a100",source="nomad",uuid="GPU-00000000-0000-4000-8000-000000000000"} 1`,
		`caravan_agent_source_success{node="gpu-node-1",pool="a100",source="nvml"} 0`,
		`caravan_gpu_read_failures_total{gpu="1",model="NVIDIA H100 80GB HBM3",node="gpu-node-1",pool="a100",reason="error",uuid="GPU-00000000-0000-4000-8000-000000000001"} 1`,
		// Run A holds GPU 0 (its allocated device ID), so it keeps its series.
		`caravan_run_gpu_utilization_ratio{alloc="` + allocA + `",experiment="resnet50",gpu="0",model="H100",node="gpu-node-1",pool="a100",run="resnet50-1a2b3c4d",uuid="GPU-00000000-0000-4000-8000-000000000000"} 0.7`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
