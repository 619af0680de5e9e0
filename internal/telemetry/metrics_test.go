package telemetry

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rr.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", rr.Code, rr.Body)
	}
	return rr.Body.String()
}

func TestMetricsHandlerServesOTelInstruments(t *testing.T) {
	tel, _ := start(t, Options{Service: "worker"})
	c, err := tel.MeterProvider().Meter("vpnflow/test").Int64Counter("vpnflow_test_purchases")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 3, metric.WithAttributes(attribute.String("plan", "1m")))

	body := scrape(t, tel.MetricsHandler())
	for _, want := range []string{
		`(?m)^vpnflow_test_purchases_total\{[^}]*plan="1m"[^}]*\} 3$`,
		`(?m)^target_info\{[^}]*service_name="worker"`,
		`(?m)^go_goroutines \d+`,
		`(?m)^process_start_time_seconds `,
	} {
		if !regexp.MustCompile(want).MatchString(body) {
			t.Errorf("/metrics does not match %s:\n%s", want, body)
		}
	}
}

func TestServe(t *testing.T) {
	tel, _ := start(t, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", tel.MetricsHandler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, mux) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !regexp.MustCompile(`(?m)^go_goroutines `).Match(body) {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
}

func TestServeReportsBadAddress(t *testing.T) {
	err := Serve(context.Background(), "not-an-address", http.NotFoundHandler())
	if err == nil || !regexp.MustCompile(`listen on not-an-address`).MatchString(err.Error()) {
		t.Fatalf("Serve on a bad address = %v", err)
	}
}
