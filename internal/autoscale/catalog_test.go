package autoscale_test

import (
	"bytes"
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/spec"
)

// testCatalog is an operator's catalogue: the autoscaled pool gpu (node
// pool "gpu-new", missing from Nomad), a static pool, and a policy.
func testCatalog() *spec.Catalog {
	gpu := gpuPool()
	gpu.NodePool = "gpu-new"
	static := &spec.Pool{Name: "h100", NodePool: "gpu-h100", Declared: true, GPU: "nvidia/gpu", GPUsPerNode: 8, PricePerHour: 98.32,
		IdleTimeout: 10 * time.Minute, BootTimeout: 15 * time.Minute, MinIdle: time.Minute}
	return &spec.Catalog{
		Source: "pools",
		Pools:  map[string]*spec.Pool{"gpu": gpu, "h100": static},
		Policy: &spec.Policy{AllowedDrivers: []string{"docker"}, AllowedNodePools: []string{"gpu-new", "gpu-h100"},
			ServiceNodePools: []string{}, Declared: true},
	}
}

// TestPublishAndLoadCatalog: what the autoscaler publishes reads back as
// the same pools and policy (an empty list stays "allow none", an absent
// one "allow any"), pointing at the variable.
func TestPublishAndLoadCatalog(t *testing.T) {
	srv := nomadtest.New(t)
	nc, err := nomad.New(nomad.Config{Address: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, ok, err := autoscale.LoadCatalog(ctx, nc, "default"); ok || err != nil {
		t.Fatalf("before publishing: ok %v, err %v", ok, err)
	}
	want := testCatalog()
	want.Policy.AllowedNodePools = nil
	if err := autoscale.PublishCatalog(ctx, nc, "", want, "me", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	got, ok, err := autoscale.LoadCatalog(ctx, nc, "default")
	if err != nil || !ok {
		t.Fatalf("LoadCatalog: ok %v, err %v", ok, err)
	}
	for name, w := range want.Pools {
		g := got.Pools[name]
		if g == nil {
			t.Fatalf("pool %s missing", name)
		}
		if !strings.Contains(g.DeclRange.Filename, autoscale.CatalogVariable) {
			t.Errorf("pool %s points at %q", name, g.DeclRange.Filename)
		}
		wc, gc := *w, *g
		wc.Terraform = nil
		wc.DeclRange, gc.DeclRange = g.DeclRange, g.DeclRange
		if !reflect.DeepEqual(gc, wc) {
			t.Errorf("pool %s:\n got %+v\nwant %+v", name, gc, wc)
		}
	}
	p := got.Policy
	if !reflect.DeepEqual(p.AllowedDrivers, []string{"docker"}) || p.AllowedNodePools != nil || p.ServiceNodePools == nil || len(p.ServiceNodePools) != 0 || !p.Declared {
		t.Errorf("policy = %+v", p)
	}
	srv.SetVariable("default", autoscale.CatalogVariable, map[string]string{"record": `{"version": 9}`})
	if _, _, err := autoscale.LoadCatalog(ctx, nc, "default"); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("future format: %v", err)
	}
}

// TestLeaderCreatesNodePoolsAndPublishes: the leader creates the missing
// node pool of the pool it scales (so runs naming it are accepted before
// any machine registers) and publishes the catalogue; a dry run writes
// neither.
func TestLeaderCreatesNodePoolsAndPublishes(t *testing.T) {
	for _, dry := range []bool{false, true} {
		srv := nomadtest.New(t)
		nc, err := nomad.New(nomad.Config{Address: srv.URL(), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		cat := testCatalog()
		var out bytes.Buffer
		l, err := autoscale.NewLoop(autoscale.Config{
			Pools:        map[string]*spec.Pool{"gpu": cat.Pools["gpu"]},
			Provisioners: map[string]autoscale.Provisioner{"gpu": &memProvisioner{}},
			Nomad:        nc, Catalog: cat, NodePools: nc,
			Leader:     nc.NewLease("", autoscale.LeaseVariable, "me", time.Second),
			LeaderPoll: 50 * time.Millisecond, Resync: time.Hour,
			DryRun: dry, DryRunOut: &out,
			Logger: slog.New(slog.DiscardHandler), Holder: "me",
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = l.Run(ctx) }()
		if dry {
			waitFor(t, "the dry run says what it would do", func() bool { return strings.Contains(out.String(), "would create the missing node pools") })
			cancel()
			<-done
			if pools, _ := nc.NodePools(context.Background()); hasPool(pools, "gpu-new") {
				t.Error("dry run created a node pool")
			}
			if len(srv.VariableItems("default", autoscale.CatalogVariable)) != 0 {
				t.Error("dry run published the catalogue")
			}
			continue
		}
		waitFor(t, "the catalogue is published", func() bool {
			_, ok, _ := autoscale.LoadCatalog(context.Background(), nc, "default")
			return ok
		})
		cancel()
		<-done
		pools, err := nc.NodePools(context.Background())
		if err != nil || !hasPool(pools, "gpu-new") {
			t.Fatalf("node pool gpu-new not created: %v", err)
		}
		if hasPool(pools, "gpu-h100") {
			t.Error("created the node pool of a pool this autoscaler does not scale")
		}
	}
}

func hasPool(pools []*api.NodePool, name string) bool {
	for _, p := range pools {
		if p.Name == name {
			return true
		}
	}
	return false
}
