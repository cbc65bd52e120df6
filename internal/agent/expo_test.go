package agent

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// scrape serves the collector through promhttp, as `caravan agent` does,
// and returns the exposition text.
func scrape(t testing.TB, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s: %s", resp.Status, b)
	}
	return string(b)
}

// agentRegistry registers c as `caravan agent` does, in a fresh registry.
func agentRegistry(t testing.TB, c *Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := Register(reg, c); err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestRegisterTwiceFails(t *testing.T) {
	reg := agentRegistry(t, NewCollector(New(Config{})))
	if err := Register(reg, NewCollector(New(Config{}))); err == nil {
		t.Error("registering the agent's metrics twice in one registry: no error")
	}
}
