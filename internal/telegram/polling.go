package telegram

import (
	"context"
	"net/http"
	"strings"
)

// PollObserver hears how each getUpdates round ended. The library's
// polling loop reports neither, yet they are what tells a bot that
// receives updates from one that is stuck (Completed stops) or fights
// another instance for the token (Conflict: Telegram answers 409 to all
// but the latest poller).
type PollObserver struct {
	Completed func() // a round returned updates or none, HTTP 200
	Conflict  func() // HTTP 409: another getUpdates or a webhook holds the token
}

// observePolls wraps next so that o hears every getUpdates response.
func observePolls(next http.RoundTripper, o PollObserver) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		if err != nil || !strings.HasSuffix(r.URL.Path, "/getUpdates") {
			return resp, err
		}
		switch {
		case resp.StatusCode == http.StatusOK && o.Completed != nil:
			o.Completed()
		case resp.StatusCode == http.StatusConflict && o.Conflict != nil:
			o.Conflict()
		}
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// WebhookPending is how many updates Telegram holds for the webhook
// (getWebhookInfo's pending_update_count): a webhook bot that gets no
// deliveries while updates wait is not receiving.
func (b *Bot) WebhookPending(ctx context.Context) (int, error) {
	info, err := b.api.GetWebhookInfo(ctx)
	if err != nil {
		return 0, err
	}
	return info.PendingUpdateCount, nil
}
