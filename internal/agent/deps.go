package agent

import (
	"context"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// Nomad is what the agent reads from Nomad. *nomad.Client satisfies it.
type Nomad interface {
	// NodeAllocations lists the allocations placed on a node, with their jobs.
	NodeAllocations(ctx context.Context, nodeID string) ([]*api.Allocation, error)
	// Allocation reads one allocation (with its job) by ID.
	Allocation(ctx context.Context, namespace, allocID string) (*api.Allocation, error)
	// AllocationStats reads an allocation's resource usage from the client agent.
	AllocationStats(ctx context.Context, allocID string) (*api.AllocResourceUsage, error)
	// ClientStats reads host statistics, device plugin stats included.
	ClientStats(ctx context.Context, nodeID string) (*api.HostStats, error)
}

// UsageStore persists run usage summaries. *nomad.Client satisfies it.
type UsageStore interface {
	PutUsage(ctx context.Context, namespace string, u *record.Usage) error
}
