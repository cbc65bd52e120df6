package nomad

import (
	"context"
	"strings"

	version "github.com/hashicorp/go-version"
)

// ServerVersion is the lowest version among the alive servers of the
// client's region (/v1/agent/members, which needs node:read): what every
// server of the cluster understands, so what a job may rely on. "" with no
// error when no server says.
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	m, err := c.api.Agent().MembersOpts(c.q(ctx, ""))
	if err != nil {
		return "", c.fail(op{what: "read the Nomad servers' versions", thing: "agent members endpoint", need: "node:read", ns: c.namespace}, err)
	}
	var lowest *version.Version
	raw := ""
	for _, mem := range m.Members {
		if mem == nil || mem.Status != "alive" {
			continue
		}
		if r := c.region; r != "" && mem.Tags["region"] != "" && mem.Tags["region"] != r {
			continue
		}
		b := mem.Tags["build"]
		v, err := version.NewVersion(strings.TrimSpace(strings.SplitN(b, "+", 2)[0]))
		if err != nil {
			continue
		}
		if lowest == nil || v.LessThan(lowest) {
			lowest, raw = v, b
		}
	}
	return raw, nil
}

// VersionAtLeast reports whether Nomad version have is min or newer; an
// unreadable version is not.
func VersionAtLeast(have, min string) bool {
	h, err := version.NewVersion(strings.SplitN(have, "+", 2)[0])
	if err != nil {
		return false
	}
	m, err := version.NewVersion(min)
	if err != nil {
		return false
	}
	return !h.Core().LessThan(m.Core())
}
