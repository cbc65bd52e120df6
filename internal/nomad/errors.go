package nomad

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/nomad/api"
)

// Sentinels that callers test with errors.Is. Every error this package
// returns is an *Error whose Kind is one of them (or nil for errors that fit
// none), and whose message is a sentence naming the address and the fix.
var (
	ErrNotFound    = errors.New("not found")
	ErrPermission  = errors.New("permission denied")
	ErrUnreachable = errors.New("nomad unreachable")
	ErrTimeout     = errors.New("nomad did not answer in time")
	ErrNamespace   = errors.New("namespace does not exist")
	// ErrConflict: a check-and-set or enforce-index write lost a race, or
	// a job ID already belongs to someone else.
	ErrConflict = errors.New("conflict")
	ErrServer   = errors.New("nomad internal error")
	// ErrCorrupt: a record or usage variable exists but cannot be decoded.
	ErrCorrupt = errors.New("corrupt record")
	// ErrNodePool: a job names a node pool Nomad does not know.
	ErrNodePool = errors.New("node pool does not exist")
	// ErrTooLarge: a variable exceeds what Nomad accepts.
	ErrTooLarge = errors.New("too large")
)

// Error is a failed Nomad call, explained.
type Error struct {
	Kind      error  // one of the sentinels above, or nil
	Op        string // what caravan was doing: `register job "x"`
	Address   string
	Namespace string
	Status    int    // HTTP status when Nomad answered, else 0
	Message   string // Nomad's own words (response body), trimmed
	Err       error  // the underlying error
	text      string
}

func (e *Error) Error() string { return e.text }

// Unwrap exposes both the sentinel and the underlying error to errors.Is/As.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// op describes a call for error messages: what was being done, what thing
// a 404 refers to, and which ACL capability the token needs.
type op struct {
	what  string // `register job "x"`
	thing string // `job "x"`; empty: a 404 reads as the endpoint missing
	need  string // `submit-job`, `node:write`, ...
	ns    string
}

var statusRE = regexp.MustCompile(`Unexpected response code: (\d{3})(?: \((?s:(.*))\))?`)

// fail turns any error of the api package, the network or ctx into an *Error.
func (c *Client) fail(o op, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	e := &Error{Op: o.what, Address: c.address, Namespace: o.ns, Err: err}
	status, body := httpStatus(err)
	e.Status, e.Message = status, body
	switch {
	case status == 0 && errors.Is(err, context.Canceled):
		e.text = fmt.Sprintf("%s: canceled", o.what)
	case status == 0 && isTimeout(err):
		e.Kind = ErrTimeout
		e.text = fmt.Sprintf("%s: Nomad at %s did not answer within %s (is it overloaded or behind a slow link? check NOMAD_ADDR)", o.what, c.address, c.timeout)
	case status == 0 && isTLS(err):
		e.Kind = ErrUnreachable
		e.text = fmt.Sprintf("%s: cannot talk TLS with Nomad at %s: %s (set NOMAD_CACERT to the cluster's CA, NOMAD_CLIENT_CERT/NOMAD_CLIENT_KEY if it requires client certificates, or check the address's scheme)", o.what, c.address, tlsReason(err))
	case status == 0 && isNetwork(err):
		e.Kind = ErrUnreachable
		e.text = fmt.Sprintf("%s: cannot reach Nomad at %s: %s (is the agent running? set NOMAD_ADDR or %s)", o.what, c.address, netReason(err), c.addrFlag)
	case status == 0:
		e.text = fmt.Sprintf("%s: talking to Nomad at %s: %v", o.what, c.address, err)
	case strings.Contains(body, "HTTP request to an HTTPS server"):
		e.Kind = ErrUnreachable
		e.text = fmt.Sprintf("%s: Nomad at %s speaks TLS (use https:// in NOMAD_ADDR or %s, with NOMAD_CACERT)", o.what, c.address, c.addrFlag)
	case strings.Contains(body, "nonexistent namespace") || strings.Contains(body, "namespace not found") ||
		strings.Contains(body, "Namespace not found"):
		e.Kind = ErrNamespace
		e.text = fmt.Sprintf("%s: namespace %q does not exist in Nomad at %s (create it with `nomad namespace apply %s`, or choose another with NOMAD_NAMESPACE or -namespace)", o.what, o.ns, c.address, o.ns)
	case strings.Contains(body, "nonexistent node pool"):
		e.Kind = ErrNodePool
		e.text = fmt.Sprintf("%s: %s in Nomad at %s (a pool exists once a node joins it or it is created: `nomad node pool apply`, or declare the pool in the operator's pools directory, where `caravan autoscale POOLSDIR` creates it)", o.what, body, c.address)
	case strings.Contains(body, "is not allowed in namespace"):
		// The namespace's capabilities (enabled_task_drivers and the
		// like) refuse the job: the operator's rule, enforced by Nomad.
		e.Kind = ErrPermission
		e.text = fmt.Sprintf("%s: Nomad at %s refused it: %s (the namespace's capabilities allow other task drivers or network modes: see `nomad namespace status`; this is the operator's rule, not a failure to retry)", o.what, c.address, strings.TrimPrefix(strings.Join(strings.Fields(strings.TrimPrefix(strings.TrimSpace(body), "1 error occurred:")), " "), "* "))
	case status == 429:
		e.text = fmt.Sprintf("%s: Nomad at %s answered 429 and kept refusing after retries: this address holds more connections than the agent's limits.http_max_conns_per_client allows (100 by default); other processes on this machine (or behind the same NAT) share it: run fewer at once, or raise the limit (docs/setup.md, section 9)", o.what, c.address)
	case status == 403:
		e.Kind = ErrPermission
		need := o.need
		if need == "" {
			need = "a policy that allows this"
		}
		e.text = fmt.Sprintf("%s: permission denied by Nomad ACLs at %s: the token needs %s in namespace %q (set NOMAD_TOKEN or -token)", o.what, c.address, need, o.ns)
	case status == 404 || (status == 500 && body == "node not found" && o.thing != ""):
		// Nomad answers a drain or an eligibility change of a node it
		// does not know (gone since caravan listed it) with a 500.
		e.Kind = ErrNotFound
		if o.thing == "" {
			// Nothing by name was asked for, so the endpoint itself is
			// missing: the address is most likely not a Nomad HTTP API.
			e.text = fmt.Sprintf("%s: %s answered 404 Not Found for the endpoint (is it a Nomad agent's HTTP API? check NOMAD_ADDR or -address)", o.what, c.address)
			break
		}
		e.text = fmt.Sprintf("%s not found in namespace %q at %s", o.thing, o.ns, c.address)
	case status == 409:
		e.Kind = ErrConflict
		e.text = fmt.Sprintf("%s: conflict at %s: %s", o.what, c.address, orDefault(body, "someone else changed it first; retry"))
	case status == 413 || strings.Contains(body, "exceeds maximum") || strings.Contains(body, "too large") || strings.Contains(body, "limited to 64KiB"):
		e.Kind = ErrTooLarge
		e.text = fmt.Sprintf("%s: Nomad at %s refused it as too large: %s", o.what, c.address, body)
	case status >= 500:
		e.Kind = ErrServer
		e.text = fmt.Sprintf("%s: Nomad returned an internal error: %s (at %s; retry, or check the server logs)", o.what, orDefault(body, strconv.Itoa(status)), c.address)
	default:
		e.text = fmt.Sprintf("%s: Nomad at %s answered %d: %s", o.what, c.address, status, orDefault(body, "(no message)"))
	}
	// The underlying error may name the request URL, and with it the
	// address's credentials (net/http hides only the password).
	e.text, e.Message = redactText(e.text), redactText(e.Message)
	return e
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// httpStatus digs the HTTP status and body out of the api package's
// errors, which come either typed or as "Unexpected response code: N (body)".
func httpStatus(err error) (int, string) {
	var ure api.UnexpectedResponseError
	if errors.As(err, &ure) && ure.HasStatusCode() {
		return ure.StatusCode(), strings.TrimSpace(ure.Body())
	}
	var urp *api.UnexpectedResponseError
	if errors.As(err, &urp) && urp != nil && urp.HasStatusCode() {
		return urp.StatusCode(), strings.TrimSpace(urp.Body())
	}
	if m := statusRE.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, strings.TrimSpace(m[2])
	}
	return 0, ""
}

func isTLS(err error) bool {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	msg := err.Error()
	return errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) || errors.As(err, &cv) || errors.As(err, &rh) ||
		strings.Contains(msg, "server gave HTTP response to HTTPS client") || strings.Contains(msg, "tls: ")
}

func tlsReason(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return "it speaks plain HTTP (use http:// in NOMAD_ADDR)"
	case strings.Contains(msg, "malformed HTTP response") || strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "it speaks TLS (use https:// in NOMAD_ADDR)"
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return "its certificate is signed by an unknown authority"
	}
	var hn x509.HostnameError
	if errors.As(err, &hn) {
		return hn.Error()
	}
	return netReason(err)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isNetwork(err error) bool {
	var ue *url.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &oe) || errors.As(err, &de) || errors.Is(err, syscall.ECONNREFUSED) ||
		(errors.As(err, &ue) && !strings.Contains(ue.Err.Error(), "response"))
}

func netReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return "cannot resolve " + de.Name
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
