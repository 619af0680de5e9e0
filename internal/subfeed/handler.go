// Package subfeed serves each user's subscription URL, <base>/sub/<token>:
// the list of the user's current vless:// links that VPN apps (v2rayNG,
// Hiddify, Happ, Streisand, v2RayTun…) import once and refresh on their
// own, with the headers they read (traffic, expiry, refresh interval,
// title, support links). Clash-based apps and sing-box's apps, which read
// no links, get a profile of the same servers in their format (Profile).
//
// The token is the only credential. It is 256 random bits, looked up by its
// SHA-256 (store.FeedByToken), and an unknown one is a plain 404 after the
// same one database query a known one costs. Requests are rate-limited per
// client address and per token before the database is asked. A user whose
// subscription expired or was blocked gets a valid, empty profile whose
// title says why, so the app shows that instead of an error.
package subfeed

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vpnflow/internal/accesskey"
	"vpnflow/internal/config"
	"vpnflow/internal/i18n"
	"vpnflow/internal/store"
	"vpnflow/internal/vless"
)

// Path is the route the bot's HTTP server mounts the handler on.
const Path = "GET /sub/{token}"

// Default rates. Apps refresh every few hours and when opened, from one or
// a few devices: 20 at once and then one every 30 s per token is far above
// that. An address may hold many users (a carrier's NAT), so it gets more.
var (
	DefaultPerToken   = Rate{Every: 30 * time.Second, Burst: 20}
	DefaultPerAddress = Rate{Every: 500 * time.Millisecond, Burst: 60}
)

// maxBuckets bounds each limiter's memory (about 100 bytes a bucket).
const maxBuckets = 100_000

// queryTimeout bounds the one database query of a request.
const queryTimeout = 5 * time.Second

// Options configures a Handler.
type Options struct {
	Store  *store.Store
	Config config.Config
	Texts  *i18n.Catalog
	// BotURL is the bot's https://t.me/<username>, the support and web
	// page links when the configuration names none; "" leaves them out.
	BotURL     string
	PerToken   Rate // zero: DefaultPerToken
	PerAddress Rate // zero: DefaultPerAddress
	Registry   prometheus.Registerer
	Log        *slog.Logger
	Now        func() time.Time // nil: time.Now
}

// Handler serves subscription URLs.
type Handler struct {
	store     *store.Store
	cfg       config.Config
	texts     *i18n.Catalog
	support   string
	page      string
	perToken  *keyedLimiter
	perAddr   *keyedLimiter
	requests  *prometheus.HistogramVec
	log       *slog.Logger
	now       func() time.Time
	ipHeader  string
	hoursText string
}

// New makes a Handler. Its metrics are registered on o.Registry.
func New(o Options) (*Handler, error) {
	if o.PerToken == (Rate{}) {
		o.PerToken = DefaultPerToken
	}
	if o.PerAddress == (Rate{}) {
		o.PerAddress = DefaultPerAddress
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		store: o.Store, cfg: o.Config, texts: o.Texts, log: o.Log, now: o.Now,
		support:   firstOf(o.Config.SubscriptionSupportURL, o.BotURL),
		page:      firstOf(o.Config.SubscriptionPageURL, o.BotURL),
		perToken:  newKeyedLimiter(o.PerToken, maxBuckets),
		perAddr:   newKeyedLimiter(o.PerAddress, maxBuckets),
		ipHeader:  o.Config.SubscriptionIPHeader,
		hoursText: updateHours(int(o.Config.SubscriptionUpdate / time.Hour)),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vpnflow_subscription_url_seconds",
			Help:    "Subscription URL requests by result (served, empty, not_found, rate_limited, bad_request, error) and how long they took.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}, []string{"result"}),
	}
	if o.Registry != nil {
		if err := o.Registry.Register(h.requests); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ServeHTTP answers GET /sub/{token}.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	begin := time.Now()
	result := h.serve(w, r, h.now())
	h.requests.WithLabelValues(result).Observe(time.Since(begin).Seconds())
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, now time.Time) string {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if ok, wait := h.perAddr.allow(clientKey(r, h.ipHeader), now); !ok {
		return tooMany(w, wait)
	}
	token := r.PathValue("token")
	if !wellFormed(token) {
		http.NotFound(w, r)
		return "not_found"
	}
	if ok, wait := h.perToken.allow(token, now); !ok {
		return tooMany(w, wait)
	}
	format, ok := formatFor(r)
	if !ok {
		http.Error(w, badFormat, http.StatusBadRequest)
		return "bad_request"
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	f, err := h.store.FeedByToken(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return "not_found"
	}
	if err != nil {
		// Apps keep the profile they have and try again later.
		h.log.Warn("subscription url: read feed", "error", err)
		w.Header().Set("Retry-After", "60")
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return "error"
	}
	live := f.Live(now)
	var links []vless.Link
	if live {
		if links, err = accesskey.FeedLinks(h.cfg, f); err != nil {
			h.log.Error("subscription url: build links", "user_id", f.UserID, "error", err)
			http.Error(w, "try again later", http.StatusInternalServerError)
			return "error"
		}
	}
	body, contentType, err := Profile(format, links, h.cfg.SubscriptionTitle)
	if err != nil {
		h.log.Error("subscription url: render", "user_id", f.UserID, "format", format, "error", err)
		http.Error(w, "try again later", http.StatusInternalServerError)
		return "error"
	}
	h.writeHeaders(w.Header(), f, live)
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	if !live {
		return "empty"
	}
	return "served"
}

// writeHeaders sets the headers the apps read.
func (h *Handler) writeHeaders(hd http.Header, f store.Feed, live bool) {
	title := h.cfg.SubscriptionTitle
	if id := titleMessage(f, live); id != "" {
		title = h.texts.T(f.Language, id, map[string]any{"Title": title})
	}
	setHeader(hd, hUserInfo, userInfo(f))
	setHeader(hd, hUpdateInterval, h.hoursText)
	setHeader(hd, hTitle, encodeTitle(title))
	setHeader(hd, hDisposition, disposition(h.cfg.SubscriptionTitle))
	if h.support != "" {
		setHeader(hd, hSupportURL, h.support)
	}
	if h.page != "" {
		setHeader(hd, hWebPageURL, h.page)
	}
}

func tooMany(w http.ResponseWriter, wait time.Duration) string {
	w.Header().Set("Retry-After", retryAfter(wait))
	http.Error(w, "too many requests", http.StatusTooManyRequests)
	return "rate_limited"
}

// wellFormed reports whether s can be a token at all (43 base64url
// characters), so that nothing else reaches the limiter or the database.
func wellFormed(s string) bool {
	if len(s) != store.URLTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
