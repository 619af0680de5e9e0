package telemetry

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestSetupRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"no service", Options{Out: os.Stderr}, "Service is required"},
		{"no output", Options{Service: "bot"}, "Out is required"},
		{"endpoint without scheme", Options{Service: "bot", Out: os.Stderr, OTLPEndpoint: "collector:4317"}, `got "collector:4317"`},
		{"endpoint with other scheme", Options{Service: "bot", Out: os.Stderr, OTLPEndpoint: "grpc://collector:4317"}, "http:// or https://"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tel, err := Setup(context.Background(), c.opts)
			if err == nil {
				_ = tel.Shutdown(context.Background())
				t.Fatal("Setup accepted bad options")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestSetupInstallsGlobals(t *testing.T) {
	tel, _ := start(t, Options{})
	if otel.GetTracerProvider() != tel.TracerProvider() {
		t.Error("global tracer provider is not the one Setup built")
	}
	if otel.GetMeterProvider() != tel.MeterProvider() {
		t.Error("global meter provider is not the one Setup built")
	}
	fields := otel.GetTextMapPropagator().Fields()
	if !contains(fields, "traceparent") || !contains(fields, "baggage") {
		t.Errorf("global propagator fields = %v, want W3C traceparent and baggage", fields)
	}
}

func TestSpansRecordedWithoutExporter(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tel, _ := start(t, Options{}, rec)
	_, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "op")
	span.End()
	if !span.SpanContext().IsValid() || !span.SpanContext().IsSampled() {
		t.Fatalf("span context %v is not valid and sampled", span.SpanContext())
	}
	if got := len(rec.Ended()); got != 1 {
		t.Fatalf("recorded %d spans, want 1", got)
	}
	if len(tel.exporters) != 0 {
		t.Fatalf("exporters = %v without an endpoint", tel.exporters)
	}
}

// otlpEnv points every standard OTLP variable at addr, so that an exporter
// created from the environment alone would reach it.
func otlpEnv(t *testing.T, addr string) {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"} {
		t.Setenv(name, "http://"+addr)
	}
}

// emit produces one span and one metric point and shuts down, which flushes
// both to any exporter there is.
func emit(t *testing.T, tel *Telemetry) error {
	t.Helper()
	_, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "op")
	span.End()
	c, err := tel.MeterProvider().Meter("test").Int64Counter("emitted")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return tel.Shutdown(ctx)
}

func TestNoNetworkWithoutEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	otlpEnv(t, ln.Addr().String())

	tel, err := Setup(context.Background(), Options{Service: "test", Out: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := emit(t, tel); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if len(tel.exporters) != 0 {
		t.Fatalf("exporters = %v without an endpoint", tel.exporters)
	}
	// Shutdown has flushed; a connection from an exporter would be queued by now.
	if err := ln.(*net.TCPListener).SetDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if conn, err := ln.Accept(); err == nil {
		conn.Close()
		t.Fatal("something connected to the OTLP address although OTLPEndpoint was empty")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("accept: %v", err)
	}
}

// The counterpart of TestNoNetworkWithoutEndpoint: with an endpoint, the
// exporters do reach it.
func TestExportsToEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			conn.Close()
		}
		accepted <- err
	}()

	tel, err := Setup(context.Background(), Options{Service: "test", Out: &syncBuffer{}, OTLPEndpoint: "http://" + ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"otlp-traces", "otlp-metrics"}; strings.Join(tel.exporters, ",") != strings.Join(want, ",") {
		t.Fatalf("exporters = %v, want %v", tel.exporters, want)
	}
	// The listener does not speak gRPC, so the final export fails; only the
	// connection matters here.
	_ = emit(t, tel)
	if err := <-accepted; err != nil {
		t.Fatalf("no exporter connected: %v", err)
	}
}

func TestShutdownIsIdempotent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tel, err := setup(context.Background(), Options{Service: "test", Out: &syncBuffer{}}, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("first Shutdown: %v", err)
	}
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	_, span := tel.TracerProvider().Tracer("test").Start(ctx, "late")
	span.End()
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans recorded after Shutdown", n)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
