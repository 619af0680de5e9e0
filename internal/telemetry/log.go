package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// Logger returns the process's logger: JSON lines to Options.Out at
// Options.Level, tagged with the service name. Records logged with a context
// that holds a span (logger.InfoContext(ctx, ...)) carry trace_id and
// span_id, so a log line leads straight to its trace.
func (t *Telemetry) Logger() *slog.Logger { return t.logger }

func newLogger(opts Options) *slog.Logger {
	h := slog.NewJSONHandler(opts.Out, &slog.HandlerOptions{Level: opts.Level})
	return slog.New(traceHandler{h}).With("service", opts.Service)
}

// traceHandler adds the active span's ids to each record. Inside a
// WithGroup the ids land in that group, as any record attribute would.
type traceHandler struct {
	slog.Handler
}

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		// Clone: the caller may still hold the record, and AddAttrs may
		// write into storage the two share.
		r = r.Clone()
		r.AddAttrs(
			slog.String("trace_id", sc.TraceID().String()),
			slog.String("span_id", sc.SpanID().String()),
		)
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
