package nomad

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/nomad/api"
)

// NoCAS makes a variable write or delete unconditional.
const NoCAS int64 = -1

// MaxVariableSize is Nomad's limit on a variable's items, in bytes
// (64 KiB). Records and usage are kept under it (see records.go).
const MaxVariableSize = 64 * 1024

// Variable reads a Nomad variable; a missing one is ErrNotFound.
func (c *Client) Variable(ctx context.Context, namespace, path string) (*api.Variable, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	v, _, err := c.api.Variables().Peek(path, c.q(ctx, ns))
	o := op{what: fmt.Sprintf("read variable %q", path), thing: fmt.Sprintf("variable %q", path), need: "variables:read", ns: ns}
	if err != nil {
		return nil, c.fail(o, err)
	}
	if v == nil {
		return nil, &Error{Kind: ErrNotFound, Op: o.what, Address: c.address, Namespace: ns,
			text: fmt.Sprintf("variable %q not found in namespace %q at %s", path, ns, c.address)}
	}
	return v, nil
}

// PutVariable writes items at path. With cas >= 0 it is a check-and-set:
// the write happens only if the variable's ModifyIndex equals cas (0: only
// if it does not exist); otherwise it is an ErrConflict. NoCAS writes
// unconditionally. It returns the variable as stored (with its new
// ModifyIndex).
func (c *Client) PutVariable(ctx context.Context, namespace, path string, items map[string]string, cas int64) (*api.Variable, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	v := &api.Variable{Namespace: ns, Path: path, Items: items}
	var out *api.Variable
	var err error
	if cas >= 0 {
		v.ModifyIndex = uint64(cas)
		out, _, err = c.api.Variables().CheckedUpdate(v, c.w(ctx, ns))
	} else {
		out, _, err = c.api.Variables().Update(v, c.w(ctx, ns))
	}
	if err != nil {
		return nil, c.varFail(op{what: fmt.Sprintf("write variable %q", path), thing: fmt.Sprintf("variable %q", path), need: "variables:write", ns: ns}, err)
	}
	return out, nil
}

// varMeta is the part of Nomad's answer to a variable write that
// writeVariable keeps. Nomad echoes the whole variable, items included;
// decoding a run record's items back into a map only to drop them was a
// third of the client's cost of writing a record.
type varMeta struct {
	ModifyIndex uint64
}

// writeVariable is PutVariable for callers that need only the new
// ModifyIndex: the same request, with Nomad's echo of the items skipped
// rather than decoded. Check-and-set failures are the same ErrConflict.
func (c *Client) writeVariable(ctx context.Context, namespace, path string, items map[string]string, cas int64) (uint64, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	v := &api.Variable{Namespace: ns, Path: path, Items: items}
	endpoint := "/v1/var/" + path
	if cas >= 0 {
		v.ModifyIndex = uint64(cas)
		endpoint += "?cas=" + strconv.FormatInt(cas, 10)
	}
	var out varMeta
	_, err := c.api.Raw().Write(endpoint, v, &out, c.w(ctx, ns))
	if err != nil {
		err = casConflict(err, cas)
		return 0, c.varFail(op{what: fmt.Sprintf("write variable %q", path), thing: fmt.Sprintf("variable %q", path), need: "variables:write", ns: ns}, err)
	}
	return out.ModifyIndex, nil
}

// casConflict turns the 409 that Nomad answers a lost check-and-set with
// into the api.ErrCASConflict that Variables().CheckedUpdate returns, so
// that varFail reads both alike. Any other error is returned as is.
func casConflict(err error, cas int64) error {
	status, body := httpStatus(err)
	if cas < 0 || status != http.StatusConflict {
		return err
	}
	var cur api.Variable
	if json.Unmarshal([]byte(body), &cur) != nil {
		return err
	}
	return api.ErrCASConflict{CheckIndex: uint64(cas), Conflict: &cur}
}

// DeleteVariable removes a variable; with cas >= 0 only if its ModifyIndex
// still equals cas.
func (c *Client) DeleteVariable(ctx context.Context, namespace, path string, cas int64) error {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	var err error
	if cas >= 0 {
		_, err = c.api.Variables().CheckedDelete(path, uint64(cas), c.w(ctx, ns))
	} else {
		_, err = c.api.Variables().Delete(path, c.w(ctx, ns))
	}
	if err != nil {
		return c.varFail(op{what: fmt.Sprintf("delete variable %q", path), thing: fmt.Sprintf("variable %q", path), need: "variables:destroy", ns: ns}, err)
	}
	return nil
}

// Variables lists the metadata of variables under prefix in namespace
// (AllNamespaces for all), following Nomad's pagination.
func (c *Client) Variables(ctx context.Context, namespace, prefix string) ([]*api.VariableMetadata, error) {
	return c.listVariables(ctx, namespace, prefix, "")
}

// VariablesEndingIn lists the variables under prefix whose path ends in
// suffix. Nomad filters them, so that finding a project's few move lists
// among its 10,000 run records transfers the few; the paths are checked
// again here, for a server that ignores the filter.
func (c *Client) VariablesEndingIn(ctx context.Context, namespace, prefix, suffix string) ([]*api.VariableMetadata, error) {
	metas, err := c.listVariables(ctx, namespace, prefix, PathEndsIn(suffix))
	if err != nil {
		return nil, err
	}
	out := metas[:0]
	for _, m := range metas {
		if strings.HasSuffix(m.Path, suffix) {
			out = append(out, m)
		}
	}
	return out, nil
}

// PathEndsIn is the Nomad filter expression that keeps the variables whose
// path ends in suffix.
func PathEndsIn(suffix string) string {
	return fmt.Sprintf("VariableMetadata.Path matches %q", regexp.QuoteMeta(suffix)+"$")
}

// listVariables lists the variables under prefix that match filter (a
// Nomad filter expression; "" for all), following Nomad's pagination.
func (c *Client) listVariables(ctx context.Context, namespace, prefix, filter string) ([]*api.VariableMetadata, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	var out []*api.VariableMetadata
	next := ""
	for {
		q := c.q(ctx, ns)
		q.Prefix = prefix
		q.Filter = filter
		q.NextToken = next
		page, qm, err := c.api.Variables().List(q)
		if err != nil {
			return nil, c.fail(op{what: fmt.Sprintf("list variables under %q", prefix), need: "variables:list", ns: ns}, err)
		}
		out = append(out, page...)
		if qm == nil || qm.NextToken == "" || len(page) == 0 {
			return out, nil
		}
		next = qm.NextToken
	}
}

// varFail adds check-and-set conflicts, which the api package reports as
// its own type, to fail.
func (c *Client) varFail(o op, err error) error {
	var ce api.ErrCASConflict
	if errors.As(err, &ce) {
		found := uint64(0)
		if ce.Conflict != nil {
			found = ce.Conflict.ModifyIndex
		}
		msg := fmt.Sprintf("%s: it changed in Nomad at %s since it was read (expected modify index %d, found %d); read it again and retry", o.what, c.address, ce.CheckIndex, found)
		if ce.CheckIndex == 0 {
			msg = fmt.Sprintf("%s: it already exists in namespace %q at %s", o.what, o.ns, c.address)
		}
		return &Error{Kind: ErrConflict, Op: o.what, Address: c.address, Namespace: o.ns, Status: 409, Err: err, text: msg}
	}
	return c.fail(o, err)
}
