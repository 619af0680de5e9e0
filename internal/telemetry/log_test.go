package telemetry

import (
	"context"
	"log/slog"
	"testing"
)

func TestLogsCarryTraceIDOnlyInsideSpan(t *testing.T) {
	tel, buf := start(t, Options{Service: "bot"})
	log := tel.Logger()
	ctx := context.Background()

	log.InfoContext(ctx, "outside")
	sctx, span := tel.TracerProvider().Tracer("test").Start(ctx, "op")
	log.InfoContext(sctx, "inside", "k", "v")
	log.WithGroup("g").InfoContext(sctx, "grouped")
	span.End()
	log.Info("no context")

	recs := buf.records(t)
	sc := span.SpanContext()

	in := byMsg(t, recs, "inside")
	if in["trace_id"] != sc.TraceID().String() || in["span_id"] != sc.SpanID().String() {
		t.Errorf("inside span: trace_id=%v span_id=%v, want %s %s", in["trace_id"], in["span_id"], sc.TraceID(), sc.SpanID())
	}
	if in["k"] != "v" || in["service"] != "bot" || in["level"] != "INFO" {
		t.Errorf("inside span record lost its fields: %v", in)
	}
	g, ok := byMsg(t, recs, "grouped")["g"].(map[string]any)
	if !ok || g["trace_id"] != sc.TraceID().String() {
		t.Errorf("grouped record has no trace_id in its group: %v", byMsg(t, recs, "grouped"))
	}
	for _, msg := range []string{"outside", "no context"} {
		r := byMsg(t, recs, msg)
		if _, ok := r["trace_id"]; ok {
			t.Errorf("%q logged outside a span has trace_id: %v", msg, r)
		}
		if _, ok := r["span_id"]; ok {
			t.Errorf("%q logged outside a span has span_id: %v", msg, r)
		}
	}
}

func TestLogLevel(t *testing.T) {
	tel, buf := start(t, Options{Level: slog.LevelWarn})
	tel.Logger().Info("quiet")
	tel.Logger().Warn("loud")
	recs := buf.records(t)
	if len(recs) != 1 || recs[0]["msg"] != "loud" {
		t.Fatalf("at level WARN got records %v, want only the warning", recs)
	}
}
