package config

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxSubscriptionTitle is the longest profile title Happ shows whole; the
// other apps show longer ones, so a title that fits Happ fits them all.
const MaxSubscriptionTitle = 25

// checkSubscription checks the subscription URL's settings. The base URL is
// required by the processes that show or serve the URL (ForWorker, ForBot);
// here only its form is checked.
func (c *Config) checkSubscription(add func(string, error)) {
	if c.SubscriptionBaseURL != "" {
		c.SubscriptionBaseURL = strings.TrimRight(c.SubscriptionBaseURL, "/")
		add("SUBSCRIPTION_BASE_URL", baseURL(c.SubscriptionBaseURL))
	}
	if n := utf8.RuneCountInString(c.SubscriptionTitle); n == 0 || n > MaxSubscriptionTitle || strings.IndexFunc(c.SubscriptionTitle, unicode.IsControl) >= 0 {
		add("SUBSCRIPTION_TITLE", fmt.Errorf("must be 1-%d characters on one line, got %q", MaxSubscriptionTitle, c.SubscriptionTitle))
	}
	// Apps take the interval in whole hours (profile-update-interval).
	if d := c.SubscriptionUpdate; d < time.Hour || d > 7*24*time.Hour || d%time.Hour != 0 {
		add("SUBSCRIPTION_UPDATE_INTERVAL", fmt.Errorf("must be whole hours between 1h and 168h, got %s", d))
	}
	if c.SubscriptionSupportURL != "" {
		add("SUBSCRIPTION_SUPPORT_URL", httpURL(c.SubscriptionSupportURL))
	}
	if c.SubscriptionPageURL != "" {
		add("SUBSCRIPTION_WEB_PAGE_URL", httpURL(c.SubscriptionPageURL))
	}
	if h := c.SubscriptionIPHeader; h != "" {
		if !isHeaderName(h) {
			add("SUBSCRIPTION_CLIENT_IP_HEADER", fmt.Errorf("must be an HTTP header name such as X-Forwarded-For or X-Real-IP, got %q", h))
		}
		c.SubscriptionIPHeader = http.CanonicalHeaderKey(h)
	}
}

// baseURL checks the public address the subscription URLs start with: the
// scheme and host (and a path prefix, if a proxy maps one) under which
// /sub/<token> reaches the bot.
func baseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("must be an http(s) URL without query, fragment or user, such as https://vpn.example.com, got %q", s)
	}
	return nil
}

// SubscriptionURL is the subscription URL of a token.
func (c Config) SubscriptionURL(token string) string {
	return c.SubscriptionBaseURL + "/sub/" + token
}

func isHeaderName(s string) bool {
	for _, r := range s {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}
