package nomad

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/nomad/api"
)

// DefaultTimeout bounds every non-streaming call when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// AllNamespaces asks list calls for objects of every namespace, as
// `nomad job status -namespace '*'` does.
const AllNamespaces = "*"

// Config says which Nomad to talk to. Empty fields fall back to the NOMAD_*
// environment variables exactly as the nomad CLI reads them (api.DefaultConfig);
// non-empty fields override them, as the CLI's -address/-token flags do.
type Config struct {
	Address   string
	Token     string
	Namespace string
	Region    string
	// Timeout bounds each call; zero means DefaultTimeout. Streaming calls
	// (event stream, followed logs) are bounded by their ctx only.
	Timeout time.Duration
	// Getenv, when set, replaces os.Getenv as the source of NOMAD_*
	// variables so that tests and the CLI's Env can inject them. nil means
	// the process environment, read by api.DefaultConfig itself.
	Getenv func(string) string
	// AddressFlag is the command-line flag that sets Address, named in the
	// hints of errors about the address; empty means "-address".
	AddressFlag string
}

// Client is caravan's handle on one Nomad cluster. It is safe for concurrent
// use. Every method takes a ctx, applies its own timeout, and returns errors
// of type *Error that read as sentences.
type Client struct {
	api       *api.Client
	address   string // for people: credentials redacted (redact.go)
	uiBase    string // for links: no credentials
	namespace string
	region    string
	timeout   time.Duration
	addrFlag  string          // named in hints, e.g. "-address"
	retry     *retryTransport // nil for a unix socket
}

// New builds a Client. It does not contact Nomad: the first call does, so
// that commands that may not need Nomad do not fail early.
func New(cfg Config) (*Client, error) {
	ac := defaultConfig(cfg.Getenv)
	if cfg.Address != "" {
		ac.Address = cfg.Address
	}
	if cfg.Token != "" {
		ac.SecretID = cfg.Token
	}
	if cfg.Namespace != "" {
		ac.Namespace = cfg.Namespace
	}
	if cfg.Region != "" {
		ac.Region = cfg.Region
	}
	ac.Address = strings.TrimRight(ac.Address, "/")
	shown := redactAddress(ac.Address)
	addrFlag := cfg.AddressFlag
	if addrFlag == "" {
		addrFlag = "-address"
	}
	if u, err := url.Parse(ac.Address); err != nil || u.Scheme == "" || (u.Host == "" && u.Scheme != "unix") {
		// url.Parse's own words ("first path segment in URL cannot contain
		// colon") do not tell a user that the scheme is what is missing.
		return nil, fmt.Errorf("the Nomad address %q is not a URL: give it with its scheme, e.g. http://127.0.0.1:4646 or https://nomad.example:4646, in NOMAD_ADDR or %s", shown, addrFlag)
	}
	retry, err := setHTTPClient(ac)
	if err != nil {
		return nil, fmt.Errorf("configure Nomad client for %s: %s (check NOMAD_ADDR and the NOMAD_CACERT/NOMAD_CLIENT_CERT/NOMAD_CLIENT_KEY files)", shown, redactText(err.Error()))
	}
	c, err := api.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("configure Nomad client for %s: %s (check NOMAD_ADDR and the NOMAD_CACERT/NOMAD_CLIENT_CERT/NOMAD_CLIENT_KEY files)", shown, redactText(err.Error()))
	}
	t := cfg.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	ns := ac.Namespace
	if ns == "" {
		ns = "default"
	}
	return &Client{api: c, address: shown, uiBase: withoutUserinfo(ac.Address), namespace: ns, region: ac.Region, timeout: t, addrFlag: addrFlag, retry: retry}, nil
}

// setHTTPClient gives ac the HTTP client api.NewClient would build - the
// same pooled transport, TLS settings and HTTP/1 - with at most
// MaxConnsPerHost connections to Nomad, all of them kept alive between
// bursts (the api package's default of GOMAXPROCS+1 idle connections is
// below apply's parallelism, so every burst dialled again), and with 429s
// retried (retryTransport). A unix:// address keeps the api package's own
// socket client.
//
// The api package expects an *http.Transport only where it dials a client
// agent directly (GetNodeClientWithTimeout, alloc exec's websockets);
// caravan reads client endpoints through the server or with a Client
// built for the agent's own address, so the wrapped transport serves every
// call it makes.
func setHTTPClient(ac *api.Config) (*retryTransport, error) {
	if ac.HttpClient != nil || strings.HasPrefix(ac.Address, "unix://") {
		return nil, nil
	}
	// One connection pool per Nomad and TLS settings in the process: every
	// Client built for the same cluster shares it, so that its bound holds
	// for the process and clients that are dropped (one per command when
	// commands run in-process, as in the e2e suites and the controller)
	// leave no idle connections behind to count against Nomad's limit.
	key := poolKey(ac)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if hc, ok := shared[key]; ok {
		ac.HttpClient = hc
		return hc.Transport.(*retryTransport), nil
	}
	hc := cleanhttp.DefaultPooledClient()
	t := hc.Transport.(*http.Transport)
	t.MaxConnsPerHost = MaxConnsPerHost
	t.MaxIdleConnsPerHost = MaxConnsPerHost
	t.TLSHandshakeTimeout = 10 * time.Second
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	t.ForceAttemptHTTP2 = false // as api: alloc exec's websockets need HTTP/1
	if err := api.ConfigureTLS(hc, ac.TLSConfig); err != nil {
		return nil, err
	}
	rt := newRetryTransport(t)
	if loopback(ac.Address) {
		t.DisableCompression = true
		rt.identity = true
	}
	hc.Transport = rt
	ac.HttpClient = hc
	shared[key] = hc
	return rt, nil
}

// loopback reports whether address names this machine.
func loopback(address string) bool {
	u, err := url.Parse(address)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var (
	sharedMu sync.Mutex
	shared   = map[string]*http.Client{}
)

// poolKey identifies a connection pool: the Nomad address and everything
// of the TLS settings that changes a connection.
func poolKey(ac *api.Config) string {
	t := ac.TLSConfig
	if t == nil {
		t = &api.TLSConfig{}
	}
	return strings.Join([]string{ac.Address, t.CACert, t.CAPath, t.ClientCert, t.ClientKey, t.TLSServerName,
		strconv.FormatBool(t.Insecure), string(t.CACertPEM), string(t.ClientCertPEM), string(t.ClientKeyPEM)}, "\x00")
}

// defaultConfig is api.DefaultConfig with its environment source made
// explicit. With getenv nil it is api.DefaultConfig itself; otherwise it
// reads the same variables, with the same parsing, through getenv, so that
// an injected environment is never mixed with the process's.
func defaultConfig(getenv func(string) string) *api.Config {
	if getenv == nil {
		return api.DefaultConfig()
	}
	c := &api.Config{Address: "http://127.0.0.1:4646", TLSConfig: &api.TLSConfig{}}
	if v := getenv("NOMAD_ADDR"); v != "" {
		c.Address = v
	}
	if v := getenv("NOMAD_REGION"); v != "" {
		c.Region = v
	}
	if v := getenv("NOMAD_NAMESPACE"); v != "" {
		c.Namespace = v
	}
	if v := getenv("NOMAD_HTTP_AUTH"); v != "" {
		user, pass, _ := strings.Cut(v, ":")
		c.HttpAuth = &api.HttpBasicAuth{Username: user, Password: pass}
	}
	if v := getenv("NOMAD_CACERT"); v != "" {
		c.TLSConfig.CACert = v
	}
	if v := getenv("NOMAD_CAPATH"); v != "" {
		c.TLSConfig.CAPath = v
	}
	if v := getenv("NOMAD_CLIENT_CERT"); v != "" {
		c.TLSConfig.ClientCert = v
	}
	if v := getenv("NOMAD_CLIENT_KEY"); v != "" {
		c.TLSConfig.ClientKey = v
	}
	if v := getenv("NOMAD_TLS_SERVER_NAME"); v != "" {
		c.TLSConfig.TLSServerName = v
	}
	if v := getenv("NOMAD_SKIP_VERIFY"); v != "" {
		if b, err := strconv.ParseBool(v); err == nil {
			c.TLSConfig.Insecure = b
		}
	}
	if v := getenv("NOMAD_TOKEN"); v != "" {
		c.SecretID = v
	}
	return c
}

// Address is the Nomad HTTP address this client talks to, as it may be
// shown: credentials in it are replaced by "***".
func (c *Client) Address() string { return c.address }

// Namespace is the namespace calls use unless told otherwise.
func (c *Client) Namespace() string { return c.namespace }

// Region is the configured region, "" for the agent's own.
func (c *Client) Region() string { return c.region }

// API exposes the underlying api client for the rare caller that needs an
// endpoint this package does not wrap yet; prefer adding a method here.
func (c *Client) API() *api.Client { return c.api }

// UIJobURL is the Nomad UI link of a job, without the credentials the
// address may carry (the browser asks for them).
func (c *Client) UIJobURL(jobID, namespace string) string {
	if namespace == "" {
		namespace = c.namespace
	}
	return c.uiBase + "/ui/jobs/" + jobID + "@" + namespace
}

// call is the per-method bracket: it bounds ctx with the client's timeout
// and returns query and write options carrying it.
func (c *Client) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

func (c *Client) q(ctx context.Context, namespace string) *api.QueryOptions {
	q := &api.QueryOptions{Namespace: namespace}
	return q.WithContext(ctx)
}

func (c *Client) w(ctx context.Context, namespace string) *api.WriteOptions {
	w := &api.WriteOptions{Namespace: namespace}
	return w.WithContext(ctx)
}

// ns returns namespace, or the client's when empty.
func (c *Client) ns(namespace string) string {
	if namespace == "" {
		return c.namespace
	}
	return namespace
}
