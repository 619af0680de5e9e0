package botapp

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"vpnflow/internal/callback"
)

// TestFastFirstAnswerIsTimed: every command and button press the bot
// answers is timed in vpnflow_bot_first_answer_seconds by its kind, once
// per update however many messages follow, and an update answered with
// nothing is counted as unanswered.
func TestFastFirstAnswerIsTimed(t *testing.T) {
	f := newFastBot(t, fastConfig(t))
	ann := f.newUser("Ann", "en")
	menu := f.start(ann, "Ann", "en")
	f.press(ann, menu, callback.Data{Action: callback.Help})
	f.waitText(ann, f.T("en", "help_text", nil))
	// An unknown command gets two messages (a note and the menu): one
	// update, one first answer.
	f.send(ann, "/nonsense", f.T("en", "unknown_command", nil))
	f.waitText(ann, f.T("en", "menu_text", map[string]any{"Name": "Ann"}))

	if got := histogramCount(t, f.app.answers.first, updateMessage); got != 2 {
		t.Errorf("first answers to messages = %d, want 2 (/start, /nonsense)", got)
	}
	if got := histogramCount(t, f.app.answers.first, updateButton); got != 1 {
		t.Errorf("first answers to buttons = %d, want 1", got)
	}
	if got := counterValue(t, f.app.answers.unanswered, updateMessage); got != 0 {
		t.Errorf("unanswered messages = %v, want 0", got)
	}
}

func histogramCount(t *testing.T, h *prometheus.HistogramVec, label string) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.WithLabelValues(label).(prometheus.Histogram).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

func counterValue(t *testing.T, c *prometheus.CounterVec, label string) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.WithLabelValues(label).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
