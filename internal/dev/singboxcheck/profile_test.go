package singboxcheck

import (
	"net/netip"
	"testing"

	"github.com/sagernet/sing-box/option"

	"vpnflow/internal/subfeed"
	"vpnflow/internal/vless"
)

func link(name, host string, port int) vless.Link {
	return vless.Link{UUID: "3f1b0c52-1111-4222-8333-444455556666", Host: host, Port: port, Flow: vless.FlowVision,
		PublicKey: "Xk3v0bLq2w9uS1yY3mQ8n2a5R7t1c4e6g8i0k2m4o6q", ServerName: "www.example.com",
		Fingerprint: "firefox", ShortID: "0123abcd", Name: name}
}

// A user's servers as sing-box reads them: each link a VLESS outbound with
// REALITY and uTLS as the link says, one selector of them named after the
// subscription, the device's traffic through it by a TUN, DNS through the
// selected server, and the local network direct.
func TestSingBoxReadsTheProfile(t *testing.T) {
	links := []vless.Link{link("vpnflow-42-ams", "ams.example.com", 443), link("vpnflow-42-fra", "2001:db8::7", 8443)}
	body, ctype, err := subfeed.Profile(subfeed.FormatSingBox, links, "vpnflow")
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "application/json; charset=utf-8" {
		t.Errorf("content type %q", ctype)
	}
	o := singBoxReads(t, string(body))

	var vlesses []option.VLESSOutboundOptions
	var selector *option.SelectorOutboundOptions
	for _, out := range o.Outbounds {
		switch v := out.Options.(type) {
		case *option.VLESSOutboundOptions:
			if out.Tag != links[len(vlesses)].Name {
				t.Errorf("outbound %q, want %q", out.Tag, links[len(vlesses)].Name)
			}
			vlesses = append(vlesses, *v)
		case *option.SelectorOutboundOptions:
			if out.Tag != "vpnflow" {
				t.Errorf("selector %q, want the subscription's title", out.Tag)
			}
			selector = v
		}
	}
	if len(vlesses) != 2 || selector == nil {
		t.Fatalf("%d VLESS outbounds and selector %v, want 2 and one", len(vlesses), selector)
	}
	for i, v := range vlesses {
		l := links[i]
		tls := v.TLS
		if v.Server != l.Host || int(v.ServerPort) != l.Port || v.UUID != l.UUID || v.Flow != l.Flow ||
			tls == nil || !tls.Enabled || tls.ServerName != l.ServerName ||
			tls.UTLS == nil || !tls.UTLS.Enabled || tls.UTLS.Fingerprint != l.Fingerprint ||
			tls.Reality == nil || !tls.Reality.Enabled || tls.Reality.PublicKey != l.PublicKey || tls.Reality.ShortID != l.ShortID {
			t.Errorf("outbound %d = %+v (tls %+v), want the link %+v", i, v, tls, l)
		}
	}
	if len(selector.Outbounds) != 2 || selector.Outbounds[0] != links[0].Name || selector.Outbounds[1] != links[1].Name || selector.Default != links[0].Name {
		t.Errorf("selector %+v, want both servers, the first by default", selector)
	}
	if o.Route == nil || o.Route.Final != "vpnflow" || !o.Route.AutoDetectInterface {
		t.Errorf("route %+v, want everything else through the selector", o.Route)
	}
	if len(o.Inbounds) != 1 || o.Inbounds[0].Type != "tun" {
		t.Fatalf("inbounds %+v, want one TUN", o.Inbounds)
	}
	tun := o.Inbounds[0].Options.(*option.TunInboundOptions)
	if !tun.AutoRoute || len(tun.Address) != 2 || tun.Address[0] != netip.MustParsePrefix("172.19.0.1/30") {
		t.Errorf("tun %+v, want auto_route over 172.19.0.1/30 and an IPv6 address", tun)
	}
	if o.DNS == nil || o.DNS.Final != "remote" || len(o.DNS.Servers) != 2 {
		t.Errorf("dns %+v, want the remote resolver last", o.DNS)
	}
}

// A user without a live key gets a profile sing-box reads and that has
// nowhere to send traffic.
func TestSingBoxReadsTheEmptyProfile(t *testing.T) {
	body, _, err := subfeed.Profile(subfeed.FormatSingBox, nil, "vpnflow")
	if err != nil {
		t.Fatal(err)
	}
	o := singBoxReads(t, string(body))
	if len(o.Outbounds)+len(o.Inbounds) != 0 {
		t.Errorf("empty profile has %d inbounds and %d outbounds", len(o.Inbounds), len(o.Outbounds))
	}
}
