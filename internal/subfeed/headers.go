package subfeed

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// The headers VPN apps read from a subscription response. Their names go
// on the wire in lower case, as the panels the apps are tested against
// (Marzban, 3x-ui, Hiddify) send them: HTTP names are case-insensitive,
// but not every app's lookup is.
const (
	hUserInfo       = "subscription-userinfo"
	hUpdateInterval = "profile-update-interval"
	hTitle          = "profile-title"
	hSupportURL     = "support-url"
	hWebPageURL     = "profile-web-page-url"
	hDisposition    = "content-disposition"
)

// setHeader sets a header under exactly the name given.
func setHeader(h http.Header, name, value string) { h[name] = []string{value} }

// userInfo is subscription-userinfo: bytes sent and received (Xray's
// per-user uplink and downlink counters, as collected into the database),
// the allowance in bytes (0: no cap, which apps show as unlimited; no plan
// has a traffic cap) and the expiry as a Unix time.
func userInfo(f store.Feed) string {
	return fmt.Sprintf("upload=%d; download=%d; total=0; expire=%d", f.TrafficUp, f.TrafficDown, f.ExpiresAt.Unix())
}

// titleMessage is the catalogue's title for a feed that serves no key,
// saying why; "" for a live one.
func titleMessage(f store.Feed, live bool) string {
	switch {
	case f.Status == shop.StatusBanned:
		return "profile_title_banned"
	case !live:
		return "profile_title_expired"
	}
	return ""
}

// encodeTitle writes a profile title in the form Hiddify, Happ and
// Streisand read for any text: "base64:" and the UTF-8 bytes in standard
// base64, so a title in Russian or with emoji survives the header.
func encodeTitle(title string) string {
	return "base64:" + base64.StdEncoding.EncodeToString([]byte(title))
}

// disposition names the profile for apps that take the name from the file
// name (Hiddify does when there is no profile-title): the shop's title in
// the ASCII a quoted file name may hold.
func disposition(title string) string {
	name := strings.Map(func(r rune) rune {
		if r == ' ' || r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return -1
	}, title)
	if strings.TrimSpace(name) == "" {
		name = "vpn"
	}
	return `attachment; filename="` + name + `"`
}

// updateHours is profile-update-interval: whole hours.
func updateHours(h int) string { return strconv.Itoa(h) }
