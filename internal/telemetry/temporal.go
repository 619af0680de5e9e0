package telemetry

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
)

// temporalScope names the tracer and meter the SDK's telemetry comes from.
const temporalScope = "temporal-sdk-go"

func (t *Telemetry) setupTemporal() error {
	ic, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		// Explicit rather than the global, so the interceptor cannot pick up
		// a provider installed by someone else before Setup's.
		Tracer: t.tracer.Tracer(temporalScope),
	})
	if err != nil {
		return fmt.Errorf("telemetry: create Temporal tracing interceptor: %w", err)
	}
	t.temporalInterceptor = ic
	return nil
}

// TemporalInterceptor traces client calls, workflows and activities and
// carries the trace context through Temporal headers. It is both a client
// and a worker interceptor; set it on client.Options (workers created from
// that client inherit it), not on both.
func (t *Telemetry) TemporalInterceptor() interceptor.Interceptor { return t.temporalInterceptor }

// TemporalMetricsHandler reports the SDK's metrics through the meter
// provider, so they appear on /metrics next to ours. Counters are monotonic
// so Prometheus sees them as counters.
func (t *Telemetry) TemporalMetricsHandler() client.MetricsHandler {
	logger := t.logger
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: t.meter.Meter(temporalScope),
		// The default panics; a broken instrument must not stop a worker.
		OnError: func(err error) {
			logger.Warn("temporal metric", "err", err)
		},
		UseMonotonicCounters: true,
	})
}

// TemporalLogger routes the SDK's logs through Logger.
func (t *Telemetry) TemporalLogger() log.Logger {
	return log.NewStructuredLogger(t.logger)
}

// ApplyTemporal makes a Temporal client use this telemetry: it appends the
// tracing interceptor to opts.Interceptors (keeping any already there) and
// sets opts.MetricsHandler and opts.Logger. Call it once per Options.
func (t *Telemetry) ApplyTemporal(opts *client.Options) error {
	if opts == nil {
		return errors.New("telemetry: ApplyTemporal needs a non-nil *client.Options")
	}
	opts.Interceptors = append(opts.Interceptors, t.temporalInterceptor)
	opts.MetricsHandler = t.TemporalMetricsHandler()
	opts.Logger = t.TemporalLogger()
	return nil
}
