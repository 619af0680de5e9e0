// Package telemetry sets up OpenTelemetry for vpnflow's processes (worker,
// bot, starter): traces, metrics served to Prometheus, JSON logs that carry
// the active trace id, and the matching Temporal SDK plumbing.
//
// A process calls Setup first thing, defers Shutdown, and takes everything
// else (logger, /metrics handler, Temporal client options) from the returned
// Telemetry, so that every signal shares one resource and one trace context.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/interceptor"
)

// Options configures Setup.
type Options struct {
	// Service names the process in traces, metrics and logs ("worker", "bot").
	Service string
	// Version is the build's version, reported as service.version.
	Version string
	// Level is the lowest log level written.
	Level slog.Level
	// OTLPEndpoint is an http:// or https:// URL of an OTLP/gRPC collector,
	// normally OTEL_EXPORTER_OTLP_ENDPOINT. Empty means nothing is exported
	// over the network: spans are still recorded (so logs get trace ids) and
	// metrics are still served to Prometheus. When set, the other standard
	// OTEL_EXPORTER_OTLP_* variables (headers, timeout, certificates,
	// compression) apply; the endpoint itself always comes from here.
	OTLPEndpoint string
	// Out receives the JSON logs, normally os.Stderr.
	Out io.Writer
}

// Telemetry holds a process's providers. It is safe for concurrent use.
type Telemetry struct {
	logger   *slog.Logger
	tracer   *sdktrace.TracerProvider
	meter    *sdkmetric.MeterProvider
	registry *prometheus.Registry

	temporalInterceptor interceptor.Interceptor

	// exporters names the network exporters Setup created, so tests can see
	// that none exist without an endpoint.
	exporters []string

	shutdownOnce sync.Once
	shutdownErr  error
}

// Setup builds the providers and installs them as the OpenTelemetry globals
// (tracer provider, meter provider, W3C trace-context and baggage
// propagator), so libraries that use the globals, such as otelpgx, report
// into the same place. It opens no connection: OTLP exporters dial lazily.
func Setup(ctx context.Context, opts Options) (*Telemetry, error) {
	return setup(ctx, opts)
}

// setup is Setup with extra span processors, which tests use to see spans.
func setup(ctx context.Context, opts Options, extra ...sdktrace.SpanProcessor) (*Telemetry, error) {
	if opts.Service == "" {
		return nil, errors.New("telemetry: Options.Service is required")
	}
	if opts.Out == nil {
		return nil, errors.New("telemetry: Options.Out is required (os.Stderr for a process)")
	}
	if opts.OTLPEndpoint != "" {
		if err := checkEndpoint(opts.OTLPEndpoint); err != nil {
			return nil, err
		}
	}

	t := &Telemetry{logger: newLogger(opts)}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithAttributes(
			attribute.String("service.name", opts.Service),
			attribute.String("service.version", opts.Version),
		),
		// Last, so OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME can
		// override what the code says.
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: build resource: %w", err)
	}

	if err := t.setupTraces(ctx, opts, res, extra); err != nil {
		return nil, err
	}
	if err := t.setupMetrics(ctx, opts, res); err != nil {
		// The tracer provider has no work yet, so this returns at once.
		_ = t.tracer.Shutdown(ctx)
		return nil, err
	}
	if err := t.setupTemporal(); err != nil {
		_ = t.Shutdown(ctx)
		return nil, err
	}

	otel.SetTracerProvider(t.tracer)
	otel.SetMeterProvider(t.meter)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{}))
	// Export failures would otherwise go to the standard logger as plain text.
	logger := t.logger
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("opentelemetry error", "err", err)
	}))
	return t, nil
}

func (t *Telemetry) setupTraces(ctx context.Context, opts Options, res *resource.Resource, extra []sdktrace.SpanProcessor) error {
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if opts.OTLPEndpoint != "" {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(opts.OTLPEndpoint))
		if err != nil {
			return fmt.Errorf("telemetry: create OTLP trace exporter for %s: %w", opts.OTLPEndpoint, err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
		t.exporters = append(t.exporters, "otlp-traces")
	}
	for _, sp := range extra {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(sp))
	}
	// Without an exporter the provider still samples (parent-based, always on
	// by default) and records, so trace ids exist for logs and propagation.
	t.tracer = sdktrace.NewTracerProvider(tpOpts...)
	return nil
}

func (t *Telemetry) setupMetrics(ctx context.Context, opts Options, res *resource.Resource) error {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return fmt.Errorf("telemetry: register Go collector: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return fmt.Errorf("telemetry: register process collector: %w", err)
	}
	prom, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return fmt.Errorf("telemetry: create Prometheus exporter: %w", err)
	}
	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	if opts.OTLPEndpoint != "" {
		exp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpointURL(opts.OTLPEndpoint))
		if err != nil {
			return fmt.Errorf("telemetry: create OTLP metric exporter for %s: %w", opts.OTLPEndpoint, err)
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
		t.exporters = append(t.exporters, "otlp-metrics")
	}
	t.meter = sdkmetric.NewMeterProvider(mpOpts...)
	t.registry = reg
	return nil
}

// checkEndpoint rejects what the OTLP exporter would silently replace with
// its localhost default.
func checkEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("telemetry: OTLP endpoint must be an http:// or https:// URL such as http://otel-collector:4317, got %q", s)
	}
	return nil
}

// Shutdown flushes and stops the providers. Only the first call does work;
// later calls return its result. Bound ctx: with an unreachable collector
// the final export waits for it.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.shutdownOnce.Do(func() {
		var errs []error
		if err := t.tracer.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down tracer provider: %w", err))
		}
		if t.meter != nil {
			if err := t.meter.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shut down meter provider: %w", err))
			}
		}
		if len(errs) > 0 {
			t.shutdownErr = fmt.Errorf("telemetry: %w", errors.Join(errs...))
		}
	})
	return t.shutdownErr
}

// TracerProvider returns the process's tracer provider (also the global one).
func (t *Telemetry) TracerProvider() trace.TracerProvider { return t.tracer }

// MeterProvider returns the process's meter provider (also the global one).
func (t *Telemetry) MeterProvider() metric.MeterProvider { return t.meter }
