package nomad

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Activity is when a task last wrote to its logs and when its run last
// wrote a metric, as the files in its allocation directory say: a task
// that prints or reports touches them, whatever it runs in.
type Activity struct {
	// LastOutput is the latest modification of the task's stdout and
	// stderr log files; zero when it has none yet.
	LastOutput time.Time
	// OutputBytes is the size of those files together.
	OutputBytes int64
	// LastMetric is when the run's metrics file (metricsFile, in the
	// shared alloc directory) last changed; zero when there is none.
	LastMetric time.Time
}

// AllocActivity reads a task's Activity through Nomad's file system API
// (/v1/client/fs/ls and /stat, which the servers forward to the client
// holding the allocation; read-fs). metricsFile is the metrics file's
// name inside the allocation's shared directory.
func (c *Client) AllocActivity(ctx context.Context, namespace, allocID, task, metricsFile string) (Activity, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	ns := c.ns(namespace)
	o := op{what: fmt.Sprintf("list the log files of allocation %q", allocID), thing: fmt.Sprintf("allocation %q", allocID), need: "read-fs", ns: ns}
	q := c.q(ctx, ns)
	q.Params = map[string]string{"path": "alloc/logs"}
	var files []*api.AllocFileInfo
	if _, err := c.api.Raw().Query("/v1/client/fs/ls/"+allocID, &files, q); err != nil {
		return Activity{}, c.fail(o, err)
	}
	var a Activity
	for _, f := range files {
		if f == nil || f.IsDir || !(strings.HasPrefix(f.Name, task+".stdout.") || strings.HasPrefix(f.Name, task+".stderr.")) {
			continue
		}
		a.OutputBytes += f.Size
		if f.ModTime.After(a.LastOutput) {
			a.LastOutput = f.ModTime
		}
	}
	if metricsFile == "" {
		return a, nil
	}
	q = c.q(ctx, ns)
	q.Params = map[string]string{"path": "alloc/" + metricsFile}
	var st api.AllocFileInfo
	_, err := c.api.Raw().Query("/v1/client/fs/stat/"+allocID, &st, q)
	err = c.fail(op{what: fmt.Sprintf("stat the metrics file of allocation %q", allocID), thing: "file alloc/" + metricsFile, need: "read-fs", ns: ns}, err)
	switch {
	case err == nil:
		a.LastMetric = st.ModTime
	case errors.Is(err, ErrNotFound), isNoSuchFile(err):
		// The run wrote no metric yet.
	default:
		return Activity{}, err
	}
	return a, nil
}

// isNoSuchFile reports whether Nomad refused a stat because the file does
// not exist, which it answers with a 500 and the OS's message.
func isNoSuchFile(err error) bool {
	var e *Error
	return errors.As(err, &e) && strings.Contains(strings.ToLower(e.Message), "no such file")
}
