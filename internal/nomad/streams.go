package nomad

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/hashicorp/nomad/api"
)

// LogOptions selects which of a task's logs to read and how.
type LogOptions struct {
	Task   string // task name; required
	Stderr bool   // stderr instead of stdout
	Follow bool   // keep streaming until ctx ends (no per-call timeout then)
	// Plain asks Nomad for raw bytes instead of base64 JSON frames. Both
	// produce the same output; framed streams carry heartbeats, which keep
	// idle followed streams alive through proxies.
	Plain  bool
	Origin string // "start" (default) or "end"
	Offset int64  // bytes from Origin
}

// Logs copies a task's stdout or stderr to w through the Nomad servers'
// API (/v1/client/fs/logs), which forwards to the client holding the
// allocation. It returns when the log ends (or, with Follow, when ctx ends,
// which is not an error).
func (c *Client) Logs(ctx context.Context, allocID string, opts LogOptions, w io.Writer) error {
	if !opts.Follow {
		var cancel context.CancelFunc
		ctx, cancel = c.call(ctx)
		defer cancel()
	}
	kind := "stdout"
	if opts.Stderr {
		kind = "stderr"
	}
	origin := opts.Origin
	if origin == "" {
		origin = "start"
	}
	q := c.q(ctx, "")
	q.Params = map[string]string{
		"task":   opts.Task,
		"type":   kind,
		"origin": origin,
		"offset": strconv.FormatInt(opts.Offset, 10),
		"follow": strconv.FormatBool(opts.Follow),
		"plain":  strconv.FormatBool(opts.Plain),
	}
	o := op{what: fmt.Sprintf("read %s of task %q in allocation %q", kind, opts.Task, allocID),
		thing: fmt.Sprintf("allocation %q (or its task %q)", allocID, opts.Task), need: "read-logs", ns: c.namespace}
	body, err := c.api.Raw().Response("/v1/client/fs/logs/"+allocID, q)
	if err != nil {
		return c.fail(o, err)
	}
	defer body.Close()
	if opts.Plain {
		_, err = io.Copy(w, body)
	} else {
		err = copyFrames(w, body)
	}
	if err != nil && opts.Follow && ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return c.fail(o, err)
	}
	return nil
}

// copyFrames decodes Nomad's stream of JSON frames ({"Data": base64, ...};
// {} is a heartbeat) and writes their data.
func copyFrames(w io.Writer, r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var f api.StreamFrame
		if err := dec.Decode(&f); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(f.Data) > 0 {
			if _, err := w.Write(f.Data); err != nil {
				return err
			}
		}
	}
}

// Events subscribes to Nomad's event stream from index (0: from now) for
// topics (each with all keys), in the client's namespace (AllNamespaces for
// all). The channel closes when ctx ends or the stream fails; a failure is
// delivered first as an *api.Events whose Err is set. Heartbeats are
// dropped. No per-call timeout applies: the stream lives as long as ctx.
func (c *Client) Events(ctx context.Context, namespace string, index uint64, topics ...api.Topic) (<-chan *api.Events, error) {
	ns := c.ns(namespace)
	tm := make(map[api.Topic][]string, len(topics))
	for _, t := range topics {
		tm[t] = nil
	}
	q := &api.QueryOptions{Namespace: ns}
	ch, err := c.api.EventStream().Stream(ctx, tm, index, q)
	if err != nil {
		return nil, c.fail(op{what: "subscribe to the event stream", need: "read-job and node:read", ns: ns}, err)
	}
	return ch, nil
}

// LogTail returns up to maxBytes from the end of a task's stdout (or
// stderr). When the log is longer, its first line is cut mid-way; it is
// dropped so that every line returned is whole.
func (c *Client) LogTail(ctx context.Context, allocID, task string, stderr bool, maxBytes int64) (string, error) {
	var b bytes.Buffer
	if err := c.Logs(ctx, allocID, LogOptions{Task: task, Stderr: stderr, Plain: true, Origin: "end", Offset: maxBytes}, &b); err != nil {
		return "", err
	}
	out := b.Bytes()
	if int64(len(out)) >= maxBytes {
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			out = out[i+1:]
		}
	}
	return string(out), nil
}
