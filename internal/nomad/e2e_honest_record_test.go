//go:build e2e

package nomad_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// A recording proxy between caravan's Client and a Nomad (real or fake):
// caravan's own methods make the requests, exactly as caravan sends them,
// and every answer is kept, raw, under the label of the scenario step that
// caused it.

type exchange struct {
	label     string
	method    string
	path      string // with the query
	status    int
	nextToken bool // X-Nomad-NextToken was set (the api reads it)
	mu        sync.Mutex
	body      bytes.Buffer
	cut       bool // the scenario stopped listening: what comes later is not kept
}

func (x *exchange) Write(p []byte) (int, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cut {
		return len(p), nil
	}
	return x.body.Write(p)
}

func (x *exchange) bytes() []byte {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]byte(nil), x.body.Bytes()...)
}

type recorder struct {
	mu      sync.Mutex
	label   string
	labels  []string // in the order the steps ran
	entries []*exchange
}

// step labels what the following requests answer.
func (r *recorder) step(label string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.label = label
	r.labels = append(r.labels, label)
}

func (r *recorder) add(x *exchange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	x.label = r.label
	r.entries = append(r.entries, x)
}

// cut ends the recording of label's streams: the proxy may still read what
// the server sent after the client stopped listening, and the fake, being
// quicker, would have more of it than Nomad.
func (r *recorder) cut(label string) {
	for _, x := range r.of(label) {
		x.mu.Lock()
		x.cut = true
		x.mu.Unlock()
	}
}

// of returns the exchanges recorded under label, in order.
func (r *recorder) of(label string) []*exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*exchange
	for _, x := range r.entries {
		if x.label == label {
			out = append(out, x)
		}
	}
	return out
}

// teeBody copies what the client reads into the exchange, so that a
// stream (events, followed logs) is recorded as far as it was read.
type teeBody struct {
	io.ReadCloser
	to io.Writer
}

func (b teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.to.Write(p[:n])
	return n, err
}

// recordingProxy serves target through a proxy that records into rec.
func recordingProxy(t *testing.T, target string, transport http.RoundTripper, rec *recorder) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("proxy target %q: %v", target, err)
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = u.Host
			// Plain bodies to record: the transport asks for gzip itself
			// and unpacks it.
			pr.Out.Header.Del("Accept-Encoding")
		},
		FlushInterval: -1, // streams pass at once
		Transport:     transport,
		ModifyResponse: func(resp *http.Response) error {
			x := &exchange{method: resp.Request.Method, path: resp.Request.URL.RequestURI(), status: resp.StatusCode,
				nextToken: resp.Header.Get("X-Nomad-NextToken") != ""}
			rec.add(x)
			resp.Body = teeBody{resp.Body, x}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			x := &exchange{method: r.Method, path: r.URL.RequestURI(), status: 0}
			x.Write([]byte("proxy: " + err.Error()))
			rec.add(x)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	hs := httptest.NewServer(p)
	t.Cleanup(func() { hs.CloseClientConnections(); hs.Close() })
	return hs.URL
}

var (
	uuidRE   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	numberRE = regexp.MustCompile(`\b[0-9]+\b`)
	addrRE   = regexp.MustCompile(`https?://[^\s"')]+`)
)

// normalize blanks what differs between any two clusters in a request
// path or an error's text: UUIDs, numbers (indexes, ports) and addresses.
func normalize(s string) string {
	s = addrRE.ReplaceAllString(s, "<addr>")
	s = uuidRE.ReplaceAllString(s, "<id>")
	return numberRE.ReplaceAllString(s, "N")
}

// requestKey is a request as compared: method, path, and the sorted query.
func requestKey(x *exchange) string {
	u, err := url.Parse(x.path)
	if err != nil {
		return x.method + " " + normalize(x.path)
	}
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs) // topics come from a map
		b.WriteString(" " + k + "=" + strings.Join(vs, ","))
	}
	return x.method + " " + normalize(u.Path+b.String())
}
