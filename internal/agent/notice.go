package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Clouds whose preemption notices the agent reads.
const (
	CloudAWS = "aws"
	CloudGCP = "gcp"
)

// NodeMetaPreemptionNotice is the Nomad client meta key that turns the
// agent's preemption watcher on for its node: "aws" or "gcp". The pool
// modules set it on the clients of spot pools.
const NodeMetaPreemptionNotice = "caravan_preemption_notice"

// DefaultMetadataURL is where each cloud serves its instance metadata.
var DefaultMetadataURL = map[string]string{
	CloudAWS: "http://169.254.169.254",
	CloudGCP: "http://metadata.google.internal",
}

// gcpNotice is how long a GCP spot VM has once its preemption is
// announced: 30 seconds, which the metadata server does not restate.
const gcpNotice = 30 * time.Second

// Metadata reads a spot machine's preemption notice from its cloud's
// metadata endpoint: on AWS, spot/instance-action with an IMDSv2 token;
// on GCP, instance/preempted with the Metadata-Flavor header.
type Metadata struct {
	// Cloud is CloudAWS or CloudGCP; BaseURL the endpoint (a test or a
	// proxy may serve it elsewhere than DefaultMetadataURL).
	Cloud, BaseURL string
	HTTP           *http.Client
	Now            func() time.Time
}

// Notice returns when the machine goes, and whether it has been told so.
func (m *Metadata) Notice(ctx context.Context) (time.Time, bool, error) {
	switch m.Cloud {
	case CloudAWS:
		return m.aws(ctx)
	case CloudGCP:
		return m.gcp(ctx)
	}
	return time.Time{}, false, fmt.Errorf("preemption notices: unknown cloud %q: use %q or %q", m.Cloud, CloudAWS, CloudGCP)
}

func (m *Metadata) aws(ctx context.Context) (time.Time, bool, error) {
	tok, status, err := m.get(ctx, http.MethodPut, "/latest/api/token", map[string]string{"X-aws-ec2-metadata-token-ttl-seconds": "300"})
	if err := statusErr("AWS metadata token (IMDSv2)", status, err); err != nil {
		return time.Time{}, false, err
	}
	body, status, err := m.get(ctx, http.MethodGet, "/latest/meta-data/spot/instance-action", map[string]string{"X-aws-ec2-metadata-token": tok})
	switch {
	case err != nil:
		return time.Time{}, false, fmt.Errorf("AWS spot instance-action: %w", err)
	case status == http.StatusNotFound:
		return time.Time{}, false, nil // no interruption scheduled
	case status != http.StatusOK:
		return time.Time{}, false, fmt.Errorf("AWS spot instance-action: status %d", status)
	}
	var action struct {
		Action string    `json:"action"`
		Time   time.Time `json:"time"`
	}
	if err := json.Unmarshal([]byte(body), &action); err != nil {
		return time.Time{}, false, fmt.Errorf("AWS spot instance-action %q: %w", body, err)
	}
	return action.Time, true, nil
}

func (m *Metadata) gcp(ctx context.Context) (time.Time, bool, error) {
	body, status, err := m.get(ctx, http.MethodGet, "/computeMetadata/v1/instance/preempted", map[string]string{"Metadata-Flavor": "Google"})
	if err := statusErr("GCP instance/preempted", status, err); err != nil {
		return time.Time{}, false, err
	}
	if strings.TrimSpace(body) != "TRUE" {
		return time.Time{}, false, nil
	}
	return m.Now().Add(gcpNotice), true, nil
}

// statusErr is the error of a metadata read that failed or did not answer
// 200.
func statusErr(what string, status int, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("%s: status %d", what, status)
	}
	return nil
}

// get makes one request and returns its body and status.
func (m *Metadata) get(ctx context.Context, method, path string, header map[string]string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(m.BaseURL, "/")+path, nil)
	if err != nil {
		return "", 0, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := m.HTTP.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return string(b), resp.StatusCode, err
}
