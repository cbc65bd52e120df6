package autoscale

import (
	"context"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/terraform"
)

// NodeActor is the Nomad node operations the loop performs.
// *nomad.Client satisfies it.
type NodeActor interface {
	SetEligibility(ctx context.Context, nodeID string, eligible bool) error
	DrainNode(ctx context.Context, nodeID string, deadline time.Duration, meta map[string]string) error
	CancelDrain(ctx context.Context, nodeID string, markEligible bool) error
}

// EventSource is Nomad's event stream. *nomad.Client satisfies it.
type EventSource interface {
	Events(ctx context.Context, namespace string, index uint64, topics ...api.Topic) (<-chan *api.Events, error)
}

// Nomad is everything the loop needs from Nomad but the event stream.
type Nomad interface {
	ClusterReader
	NodeActor
	VariableStore
}

// Provisioner makes a pool's machines. *terraform.Workspace satisfies it.
// ApplyWith must call the request's Fence after planning and before it
// changes anything, and give up when it fails.
type Provisioner interface {
	ApplyWith(ctx context.Context, req terraform.ApplyRequest) (terraform.ApplyResult, error)
	State(ctx context.Context) (terraform.NodeState, error)
}

// Leader is a lock that lets one of several autoscalers act.
// *nomad.Lease satisfies it.
type Leader interface {
	TryAcquire(ctx context.Context) (bool, error)
	// Renew extends the hold; it fails when another process took the
	// lock, which makes it the check that the hold still stands.
	Renew(ctx context.Context) error
	Release(ctx context.Context) error
	// Token is the fencing token of the current hold (0 when none): it
	// grows with every new holder.
	Token() uint64
}
