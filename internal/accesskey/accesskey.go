// Package accesskey turns a stored subscription into what the user receives:
// a vless:// share link and its QR code. The bot (My subscription) and the
// worker (key messages) show the same thing because both build it here.
package accesskey

import (
	"fmt"

	"github.com/skip2/go-qrcode"

	"vpnflow/internal/config"
	"vpnflow/internal/store"
	"vpnflow/internal/vless"
)

// Key is a user's current access key, ready to show.
type Key struct {
	Link  string // vless://… — a bearer secret: show it to its owner only
	Email string // the name the key has in Xray, for support
}

// Build makes the share link for a subscription on node (the row of
// sub.NodeID): the node's host, port and REALITY settings, the
// configuration's flow, fingerprint and name prefix. A node row without
// REALITY settings (registered before nodes had them, until its worker
// restarts) takes the configuration's.
func Build(cfg config.Config, node store.Node, sub store.Subscription) (Key, error) {
	if node.ID != sub.NodeID {
		return Key{}, fmt.Errorf("build vless link for user %d: node %d given for a key on node %d", sub.UserID, node.ID, sub.NodeID)
	}
	pbk, sni, sid := node.PublicKey, node.SNI, node.ShortID
	if pbk == "" {
		pbk, sni, sid = cfg.VLESSRealityPubKey, cfg.VLESSRealitySNI, cfg.VLESSRealityShortID
	}
	l := vless.Link{
		UUID:        sub.VLESSUUID.String(),
		Host:        node.Host,
		Port:        node.Port,
		Flow:        cfg.VLESSFlow,
		PublicKey:   pbk,
		ServerName:  sni,
		Fingerprint: cfg.VLESSRealityFinger,
		ShortID:     sid,
		Name:        fmt.Sprintf("%s-%d", cfg.VLESSLinkNamePrefix, sub.UserID),
	}
	link, err := l.String(), l.Validate()
	if err != nil {
		return Key{}, fmt.Errorf("build vless link for user %d: %w", sub.UserID, err)
	}
	return Key{Link: link, Email: sub.XrayEmail}, nil
}

// QR renders the link as a PNG QR code that phone clients scan.
func (k Key) QR() ([]byte, error) {
	png, err := qrcode.Encode(k.Link, qrcode.Medium, 512)
	if err != nil {
		return nil, fmt.Errorf("render qr code: %w", err)
	}
	return png, nil
}
