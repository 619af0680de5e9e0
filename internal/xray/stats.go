package xray

import (
	"context"
	"fmt"
	"strings"
	"time"

	statscmd "github.com/xtls/xray-core/app/stats/command"
)

// Traffic is the bytes a user moved since the counter was last reset.
// Counters exist per email across all inbounds; a user with no traffic yet
// has none, and removing a user does not delete its counters.
type Traffic struct {
	Uplink   int64
	Downlink int64
}

const (
	userCounterPrefix = "user>>>"
	trafficInfix      = ">>>traffic>>>"
)

// Traffic returns the counters of every user that has any. With reset,
// Xray zeroes each counter in the same step that reads it, so adding up
// successive reset reads loses no bytes.
func (c *Client) Traffic(ctx context.Context, reset bool) (map[string]Traffic, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	resp, err := c.stats.QueryStats(ctx, &statscmd.QueryStatsRequest{Pattern: userCounterPrefix, Reset_: reset})
	if err != nil {
		return nil, c.wrap("query user traffic", err)
	}
	out := make(map[string]Traffic)
	for _, s := range resp.GetStat() {
		email, dir, ok := parseCounterName(s.GetName())
		if !ok {
			continue
		}
		t := out[email]
		if dir == "uplink" {
			t.Uplink = s.GetValue()
		} else {
			t.Downlink = s.GetValue()
		}
		out[email] = t
	}
	return out, nil
}

// UserTraffic returns one user's counters; zero when it has none.
func (c *Client) UserTraffic(ctx context.Context, email string, reset bool) (Traffic, error) {
	op := "query traffic of " + email
	if err := validateEmail(email); err != nil {
		return Traffic{}, fmt.Errorf("%s: %w", op, err)
	}
	ctx, cancel := bound(ctx)
	defer cancel()
	// The pattern is a substring match; the exact-name check below drops
	// other users whose email merely contains this one.
	resp, err := c.stats.QueryStats(ctx, &statscmd.QueryStatsRequest{Pattern: userCounterPrefix + email + trafficInfix, Reset_: reset})
	if err != nil {
		return Traffic{}, c.wrap(op, err)
	}
	var t Traffic
	for _, s := range resp.GetStat() {
		switch s.GetName() {
		case userCounterPrefix + email + trafficInfix + "uplink":
			t.Uplink = s.GetValue()
		case userCounterPrefix + email + trafficInfix + "downlink":
			t.Downlink = s.GetValue()
		}
	}
	return t, nil
}

// parseCounterName splits "user>>>EMAIL>>>traffic>>>uplink|downlink".
func parseCounterName(name string) (email, dir string, ok bool) {
	rest, ok := strings.CutPrefix(name, userCounterPrefix)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, trafficInfix)
	if i <= 0 {
		return "", "", false
	}
	dir = rest[i+len(trafficInfix):]
	if dir != "uplink" && dir != "downlink" {
		return "", "", false
	}
	return rest[:i], dir, true
}

// Uptime is how long the Xray process has been running, in whole seconds.
// It going down between two reads means Xray restarted and lost every user
// added through the API.
func (c *Client) Uptime(ctx context.Context) (time.Duration, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	resp, err := c.stats.GetSysStats(ctx, &statscmd.SysStatsRequest{})
	if err != nil {
		return 0, c.wrap("query xray uptime", err)
	}
	return time.Duration(resp.GetUptime()) * time.Second, nil
}
