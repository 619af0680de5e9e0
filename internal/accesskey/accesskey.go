// Package accesskey turns a stored subscription into what the user receives:
// the subscription URL with its QR code, and the vless:// share link for
// apps without subscriptions. The bot (My subscription), the worker (key
// messages) and the subscription URL itself (internal/subfeed) show the
// same links because all of them build them here.
package accesskey

import (
	"fmt"

	"github.com/skip2/go-qrcode"

	"vpnflow/internal/config"
	"vpnflow/internal/store"
	"vpnflow/internal/vless"
)

// Key is a user's current access, ready to show. Link and URL are bearer
// secrets: show them to their owner only.
type Key struct {
	URL   string // the subscription URL apps import and refresh (internal/subfeed)
	Link  string // vless://… for apps without subscriptions
	Email string // the name the key has in Xray, for support
}

// Build makes the subscription URL and the share link for a subscription
// on node (the row of sub.NodeID).
func Build(cfg config.Config, node store.Node, sub store.Subscription) (Key, error) {
	if node.ID != sub.NodeID {
		return Key{}, fmt.Errorf("build vless link for user %d: node %d given for a key on node %d", sub.UserID, node.ID, sub.NodeID)
	}
	link, err := nodeLink(cfg, node, sub.UserID, sub.VLESSUUID.String(), "")
	if err != nil {
		return Key{}, err
	}
	if sub.URLToken == "" || cfg.SubscriptionBaseURL == "" {
		return Key{}, fmt.Errorf("build subscription url for user %d: no token or no SUBSCRIPTION_BASE_URL", sub.UserID)
	}
	return Key{URL: cfg.SubscriptionURL(sub.URLToken), Link: link.String(), Email: sub.XrayEmail}, nil
}

// FeedLinks makes the share links a subscription URL serves: the key on
// each node it is on. With one node the link is the one the key message
// shows, name included, so an app that has both shows one server; with
// more, each name ends in its node's. The subscription URL renders them as
// share links or as a client's profile (Clash, sing-box).
func FeedLinks(cfg config.Config, f store.Feed) ([]vless.Link, error) {
	links := make([]vless.Link, 0, len(f.Nodes))
	for _, n := range f.Nodes {
		suffix := ""
		if len(f.Nodes) > 1 {
			suffix = "-" + n.Name
		}
		link, err := nodeLink(cfg, n, f.UserID, f.VLESSUUID.String(), suffix)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		links = append(links, link)
	}
	return links, nil
}

// nodeLink is the share link of key id on node: the node's host, port and
// REALITY settings, the configuration's flow, fingerprint and name prefix.
// A node row without REALITY settings (registered before nodes had them,
// until its worker restarts) takes the configuration's.
func nodeLink(cfg config.Config, node store.Node, userID int64, id, nameSuffix string) (vless.Link, error) {
	pbk, sni, sid := node.PublicKey, node.SNI, node.ShortID
	if pbk == "" {
		pbk, sni, sid = cfg.VLESSRealityPubKey, cfg.VLESSRealitySNI, cfg.VLESSRealityShortID
	}
	l := vless.Link{
		UUID:        id,
		Host:        node.Host,
		Port:        node.Port,
		Flow:        cfg.VLESSFlow,
		PublicKey:   pbk,
		ServerName:  sni,
		Fingerprint: cfg.VLESSRealityFinger,
		ShortID:     sid,
		Name:        fmt.Sprintf("%s-%d%s", cfg.VLESSLinkNamePrefix, userID, nameSuffix),
	}
	if err := l.Validate(); err != nil {
		return vless.Link{}, fmt.Errorf("build vless link for user %d: %w", userID, err)
	}
	return l, nil
}

// QR renders the subscription URL as a PNG QR code that phone apps scan:
// the URL rather than the link, so a scanned app keeps itself up to date.
func (k Key) QR() ([]byte, error) {
	return QR(k.URL)
}

// QR renders text as a PNG QR code, 512 pixels square, at the medium error
// correction level.
func QR(text string) ([]byte, error) {
	png, err := qrcode.Encode(text, qrcode.Medium, 512)
	if err != nil {
		return nil, fmt.Errorf("render qr code: %w", err)
	}
	return png, nil
}
