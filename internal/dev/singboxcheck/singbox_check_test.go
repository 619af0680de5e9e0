// Package singboxcheck checks that sing-box reads the profiles the
// subscription URL serves (internal/subfeed, ?format=sing-box), with
// sing-box's own option types. It is a module of its own so that
// sing-box's libraries, which move ones Xray-core also uses, never reach
// vpnflow's build: `make test` runs it beside the main module.
package singboxcheck

import (
	"context"
	"testing"

	"github.com/sagernet/sing-box/option"
	"github.com/sagernet/sing/common/json"
	"github.com/sagernet/sing/service"
)

// optionTypes is a sing-box options registry of the types a vpnflow
// profile uses, so that sing-box's own option types, not a copy of them,
// decide whether it reads the profile: any other type is unknown to it.
type optionTypes map[string]func() any

func (r optionTypes) OptionTypes() []string {
	ts := make([]string, 0, len(r))
	for t := range r {
		ts = append(ts, t)
	}
	return ts
}

func (r optionTypes) CreateOptions(t string) (any, bool) {
	f, ok := r[t]
	if !ok {
		return nil, false
	}
	return f(), true
}

// singBoxReads decodes a profile as `sing-box run` does (sing-box v1.14's
// option types, unknown fields refused) and fails the test if it cannot.
func singBoxReads(t *testing.T, body string) option.Options {
	t.Helper()
	ctx := context.Background()
	ctx = service.ContextWith[option.InboundOptionsRegistry](ctx, optionTypes{
		"tun": func() any { return &option.TunInboundOptions{} },
	})
	ctx = service.ContextWith[option.OutboundOptionsRegistry](ctx, optionTypes{
		"vless":    func() any { return &option.VLESSOutboundOptions{} },
		"selector": func() any { return &option.SelectorOutboundOptions{} },
		"direct":   func() any { return &option.DirectOutboundOptions{} },
	})
	ctx = service.ContextWith[option.EndpointOptionsRegistry](ctx, optionTypes{})
	ctx = service.ContextWith[option.DNSTransportOptionsRegistry](ctx, optionTypes{
		"https": func() any { return &option.RemoteHTTPSDNSServerOptions{} },
		"local": func() any { return &option.LocalDNSServerOptions{} },
	})
	var o option.Options
	if err := json.UnmarshalContextDisallowUnknownFields(ctx, []byte(body), &o); err != nil {
		t.Fatalf("sing-box does not read the profile: %v\n%s", err, body)
	}
	return o
}
