package xray

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	statscmd "github.com/xtls/xray-core/app/stats/command"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Xray keeps, per email, the addresses the user has live sessions from
// ("user>>>EMAIL>>>online"), when the policy level's statsUserOnline is on.
// Each session adds its source address when it starts and takes it away when
// it ends; sessions from 127.0.0.1 and ::1 are never counted
// (app/stats/online_map.go). The map itself, once made, stays until Xray
// restarts.
const onlineSuffix = ">>>online"

// OnlineIPs returns the addresses the user has live sessions from: none when
// the user has had no session since Xray started. ErrOnlineStatsOff when
// Xray does not track sessions, so that "none" is never a guess.
func (c *Client) OnlineIPs(ctx context.Context, email string) ([]netip.Addr, error) {
	op := "list online addresses of " + email
	if err := validateEmail(email); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ctx, cancel := bound(ctx)
	defer cancel()
	resp, err := c.stats.GetStatsOnlineIpList(ctx, &statscmd.GetStatsRequest{Name: userCounterPrefix + email + onlineSuffix})
	if status.Code(err) == codes.NotFound {
		return nil, c.neverOnline(ctx, op, email)
	}
	if err != nil {
		return nil, c.wrap(op, err)
	}
	ips := make([]netip.Addr, 0, len(resp.GetIps()))
	for s := range resp.GetIps() {
		// Xray writes IPv6 addresses in brackets (common/net/address.go).
		ip, err := netip.ParseAddr(strings.Trim(s, "[]"))
		if err != nil {
			return nil, fmt.Errorf("%s: xray listed %q: %w", op, s, err)
		}
		ips = append(ips, ip.Unmap())
	}
	return ips, nil
}

// Online returns how many distinct addresses the user has live sessions
// from; zero means no live session (from anywhere but loopback).
func (c *Client) Online(ctx context.Context, email string) (int, error) {
	op := "count online addresses of " + email
	if err := validateEmail(email); err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	ctx, cancel := bound(ctx)
	defer cancel()
	resp, err := c.stats.GetStatsOnline(ctx, &statscmd.GetStatsRequest{Name: userCounterPrefix + email + onlineSuffix})
	if status.Code(err) == codes.NotFound {
		return 0, c.neverOnline(ctx, op, email)
	}
	if err != nil {
		return 0, c.wrap(op, err)
	}
	return int(resp.GetStat().GetValue()), nil
}

// neverOnline explains a missing online map. Xray makes a user's traffic
// counters and online map together, when a session starts; counters without
// the map mean the policy does not track sessions (ErrOnlineStatsOff).
// Neither means no session since Xray started: nil.
func (c *Client) neverOnline(ctx context.Context, op, email string) error {
	resp, err := c.stats.QueryStats(ctx, &statscmd.QueryStatsRequest{Pattern: userCounterPrefix + email + trafficInfix})
	if err != nil {
		return c.wrap(op+": look for traffic counters", err)
	}
	for _, s := range resp.GetStat() {
		if e, _, ok := parseCounterName(s.GetName()); ok && e == email {
			return fmt.Errorf("%s: %w", op, ErrOnlineStatsOff)
		}
	}
	return nil
}
