package nomad

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Allocation reads one allocation with its task states and events.
func (c *Client) Allocation(ctx context.Context, namespace, allocID string) (*api.Allocation, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	a, _, err := c.api.Allocations().Info(allocID, c.q(ctx, ns))
	if err != nil {
		return nil, c.fail(op{what: fmt.Sprintf("read allocation %q", allocID), thing: fmt.Sprintf("allocation %q", allocID), need: "read-job", ns: ns}, err)
	}
	return a, nil
}

// Allocations lists allocations in namespace (AllNamespaces for all) with
// their AllocatedResources (devices included), so that the GPUs held on
// every node are known from one call.
func (c *Client) Allocations(ctx context.Context, namespace string) ([]*api.AllocationListStub, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	q := c.q(ctx, ns)
	q.Params = map[string]string{"resources": "true"}
	a, _, err := c.api.Allocations().List(q)
	if err != nil {
		return nil, c.fail(op{what: "list allocations", need: "read-job", ns: ns}, err)
	}
	return a, nil
}

// NodeAllocations lists every allocation placed on a node, all namespaces.
func (c *Client) NodeAllocations(ctx context.Context, nodeID string) ([]*api.Allocation, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	a, _, err := c.api.Nodes().Allocations(nodeID, c.q(ctx, ""))
	if err != nil {
		return nil, c.fail(op{what: fmt.Sprintf("list allocations of node %q", nodeID), thing: fmt.Sprintf("node %q", nodeID), need: "node:read", ns: c.namespace}, err)
	}
	return a, nil
}

// Evaluations lists evaluations in namespace (AllNamespaces for all).
// Blocked evaluations carry FailedTGAllocs: Nomad's reasons ("missing
// devices", "no nodes in pool") why a group waits.
func (c *Client) Evaluations(ctx context.Context, namespace string) ([]*api.Evaluation, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	e, _, err := c.api.Evaluations().List(c.q(ctx, ns))
	if err != nil {
		return nil, c.fail(op{what: "list evaluations", need: "read-job", ns: ns}, err)
	}
	return e, nil
}

// blockedFilter asks Nomad to return blocked evaluations only: a busy
// cluster keeps thousands of complete ones, and listing them all made
// status slow enough to meet the call's timeout.
const blockedFilter = `Status == "blocked"`

// BlockedEvaluations lists the evaluations with status "blocked". Nomad
// filters them server-side; the result is filtered again here for servers
// that ignore the filter.
func (c *Client) BlockedEvaluations(ctx context.Context, namespace string) ([]*api.Evaluation, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	q := c.q(ctx, ns)
	q.Filter = blockedFilter
	all, _, err := c.api.Evaluations().List(q)
	if err != nil {
		return nil, c.fail(op{what: "list blocked evaluations", need: "read-job", ns: ns}, err)
	}
	out := all[:0:0]
	for _, e := range all {
		if e.Status == "blocked" {
			out = append(out, e)
		}
	}
	return out, nil
}

// Nodes lists nodes with their resources (device groups and instances,
// node pool, drain and eligibility).
func (c *Client) Nodes(ctx context.Context) ([]*api.NodeListStub, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	q := c.q(ctx, "")
	q.Params = map[string]string{"resources": "true"}
	n, _, err := c.api.Nodes().List(q)
	if err != nil {
		return nil, c.fail(op{what: "list nodes", need: "node:read", ns: c.namespace}, err)
	}
	return n, nil
}

// Node reads one node by ID.
func (c *Client) Node(ctx context.Context, nodeID string) (*api.Node, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	n, _, err := c.api.Nodes().Info(nodeID, c.q(ctx, ""))
	if err != nil {
		return nil, c.fail(op{what: fmt.Sprintf("read node %q", nodeID), thing: fmt.Sprintf("node %q", nodeID), need: "node:read", ns: c.namespace}, err)
	}
	return n, nil
}

// NodePools lists node pools.
func (c *Client) NodePools(ctx context.Context) ([]*api.NodePool, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	p, _, err := c.api.NodePools().List(c.q(ctx, ""))
	if err != nil {
		return nil, c.fail(op{what: "list node pools", need: "node_pool:read", ns: c.namespace}, err)
	}
	return p, nil
}

// SetEligibility marks a node eligible or ineligible for new placements;
// running allocations stay.
func (c *Client) SetEligibility(ctx context.Context, nodeID string, eligible bool) error {
	ctx, cancel := c.call(ctx)
	defer cancel()
	_, err := c.api.Nodes().ToggleEligibility(nodeID, eligible, c.w(ctx, ""))
	if err != nil {
		return c.fail(op{what: fmt.Sprintf("set eligibility of node %q", nodeID), thing: fmt.Sprintf("node %q", nodeID), need: "node:write", ns: c.namespace}, err)
	}
	return nil
}

// DrainNode starts draining a node (which also makes it ineligible):
// allocations still running after deadline are stopped. System jobs stay.
// meta is recorded in the node's LastDrain (who and why).
func (c *Client) DrainNode(ctx context.Context, nodeID string, deadline time.Duration, meta map[string]string) error {
	ctx, cancel := c.call(ctx)
	defer cancel()
	_, err := c.api.Nodes().UpdateDrainOpts(nodeID, &api.DrainOptions{
		DrainSpec: &api.DrainSpec{Deadline: deadline, IgnoreSystemJobs: true},
		Meta:      meta,
	}, c.w(ctx, ""))
	if err != nil {
		return c.fail(op{what: fmt.Sprintf("drain node %q", nodeID), thing: fmt.Sprintf("node %q", nodeID), need: "node:write", ns: c.namespace}, err)
	}
	return nil
}

// CancelDrain stops a drain; markEligible also makes the node eligible again.
func (c *Client) CancelDrain(ctx context.Context, nodeID string, markEligible bool) error {
	ctx, cancel := c.call(ctx)
	defer cancel()
	_, err := c.api.Nodes().UpdateDrainOpts(nodeID, &api.DrainOptions{MarkEligible: markEligible}, c.w(ctx, ""))
	if err != nil {
		return c.fail(op{what: fmt.Sprintf("cancel drain of node %q", nodeID), thing: fmt.Sprintf("node %q", nodeID), need: "node:write", ns: c.namespace}, err)
	}
	return nil
}

// ClientStats reads host statistics (CPU, memory, disk, device stats) from
// the client agent at the client's address; nodeID "" means that agent.
func (c *Client) ClientStats(ctx context.Context, nodeID string) (*api.HostStats, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	var out api.HostStats
	path := "/v1/client/stats"
	if nodeID != "" {
		path += "?node_id=" + nodeID
	}
	if _, err := c.api.Raw().Query(path, &out, c.q(ctx, "")); err != nil {
		return nil, c.fail(op{what: "read client stats", thing: "client stats endpoint (is this address a Nomad client agent?)", need: "node:read", ns: c.namespace}, err)
	}
	return &out, nil
}

// AllocationStats reads an allocation's resource usage (CPU, memory, and
// device stats per task) from the client agent.
func (c *Client) AllocationStats(ctx context.Context, allocID string) (*api.AllocResourceUsage, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	var out api.AllocResourceUsage
	if _, err := c.api.Raw().Query("/v1/client/allocation/"+allocID+"/stats", &out, c.q(ctx, "")); err != nil {
		return nil, c.fail(op{what: fmt.Sprintf("read stats of allocation %q", allocID), thing: fmt.Sprintf("allocation %q", allocID), need: "read-job", ns: c.namespace}, err)
	}
	return &out, nil
}

// Identity is who the token says the caller is.
type Identity struct {
	AccessorID string
	Name       string
	Type       string // "client", "management", or "" when ACLs are off
}

// String is the form written into records: the token name, else its
// accessor, else "".
func (i Identity) String() string {
	if i.Name != "" {
		return i.Name
	}
	return i.AccessorID
}

// Self reads the caller's ACL token. With ACLs disabled there is no
// caller to name: Nomad 2.0.5 answers with a stand-in token (accessor
// "acls-disabled"), older versions refuse the call ("ACL support
// disabled"). Neither is an error here: Self returns a zero Identity, and
// records simply carry no submitter.
func (c *Client) Self(ctx context.Context) (Identity, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	t, _, err := c.api.ACLTokens().Self(c.q(ctx, ""))
	if err != nil {
		status, body := httpStatus(err)
		if status == 400 || (status >= 400 && (containsFold(body, "acl support disabled") || containsFold(body, "acl disabled"))) {
			return Identity{}, nil
		}
		return Identity{}, c.fail(op{what: "read own ACL token", thing: "ACL token", ns: c.namespace}, err)
	}
	if t.AccessorID == aclsDisabledAccessor {
		return Identity{}, nil
	}
	return Identity{AccessorID: t.AccessorID, Name: t.Name, Type: t.Type}, nil
}

// aclsDisabledAccessor is the accessor of the token Nomad reports as the
// caller's when ACLs are off.
const aclsDisabledAccessor = "acls-disabled"

// CheckNamespace verifies that a namespace exists, so that commands that
// only read (where Nomad answers an unknown namespace with empty lists)
// can say "namespace does not exist" instead of "no runs". Nomad without
// namespaces (Community Edition knows only "default") answers for
// "default" too.
func (c *Client) CheckNamespace(ctx context.Context, namespace string) error {
	ns := c.ns(namespace)
	if ns == AllNamespaces {
		return nil
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	_, _, err := c.api.Namespaces().Info(ns, c.q(ctx, ""))
	if err == nil {
		return nil
	}
	if status, _ := httpStatus(err); status == 404 {
		return &Error{Kind: ErrNamespace, Op: "check namespace", Address: c.address, Namespace: ns, Status: 404, Err: err,
			text: fmt.Sprintf("namespace %q does not exist in Nomad at %s (create it with `nomad namespace apply %s`, or choose another with NOMAD_NAMESPACE or -namespace)", ns, c.address, ns)}
	}
	return c.fail(op{what: fmt.Sprintf("check namespace %q", ns), thing: fmt.Sprintf("namespace %q", ns), need: "namespace read", ns: ns}, err)
}

// EnsureNodePool creates a node pool unless it exists. Nomad refuses jobs
// for a pool it does not know, and learns of a pool only when a node joins
// it or it is created: scaling a pool from zero needs the pool first.
func (c *Client) EnsureNodePool(ctx context.Context, name, description string) error {
	ctx, cancel := c.call(ctx)
	defer cancel()
	_, _, err := c.api.NodePools().Info(name, c.q(ctx, ""))
	if err == nil {
		return nil
	}
	o := op{what: fmt.Sprintf("create node pool %q", name), thing: fmt.Sprintf("node pool %q", name), need: "node_pool:write (a management token)", ns: c.namespace}
	if status, _ := httpStatus(err); status != 404 {
		return c.fail(o, err)
	}
	if _, err := c.api.NodePools().Register(&api.NodePool{Name: name, Description: description}, c.w(ctx, "")); err != nil {
		return c.fail(o, err)
	}
	return nil
}
