// Package vless builds and parses vless:// share links for VLESS over TCP
// with REALITY — the links a customer pastes into v2rayN, Hiddify, Streisand
// or any other Xray-based client.
package vless

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// DefaultFingerprint is the uTLS fingerprint clients imitate when a link
// names none; chrome is what 3x-ui and Xray's own examples use.
const DefaultFingerprint = "chrome"

// FlowVision is the only flow vpnflow hands out: XTLS Vision over REALITY.
const FlowVision = "xtls-rprx-vision"

// Link is one customer's connection settings.
type Link struct {
	UUID        string // VLESS user id, canonical 8-4-4-4-12 form
	Host        string // server address: domain, IPv4 or IPv6 (without brackets)
	Port        int
	Flow        string // "" or xtls-rprx-vision(-udp443)
	PublicKey   string // REALITY public key, base64url without padding (pbk)
	ServerName  string // SNI the client presents (sni)
	Fingerprint string // uTLS fingerprint (fp); empty means DefaultFingerprint
	ShortID     string // REALITY short id, 0–16 hex digits (sid)
	SpiderX     string // optional crawler start path (spx), begins with "/"
	Name        string // label the client shows (URL fragment)
}

// String renders the link in the share format of the Xray community (the
// VLESS share-link proposal, XTLS/Xray-core discussion #716). Parameters are
// sorted by name as url.Values encodes them, which is also what 3x-ui emits,
// so links are stable and diffable. String does not validate; call Validate
// first when the fields come from outside.
func (l Link) String() string {
	q := url.Values{}
	q.Set("type", "tcp")
	q.Set("security", "reality")
	q.Set("encryption", "none")
	q.Set("pbk", l.PublicKey)
	q.Set("sni", l.ServerName)
	q.Set("fp", l.EffectiveFingerprint())
	q.Set("sid", l.ShortID)
	if l.Flow != "" {
		q.Set("flow", l.Flow)
	}
	if l.SpiderX != "" {
		q.Set("spx", l.SpiderX)
	}
	var b strings.Builder
	b.WriteString("vless://")
	b.WriteString(url.PathEscape(l.UUID))
	b.WriteByte('@')
	b.WriteString(net.JoinHostPort(l.Host, strconv.Itoa(l.Port)))
	b.WriteByte('?')
	b.WriteString(q.Encode())
	if l.Name != "" {
		b.WriteByte('#')
		b.WriteString(escapeName(l.Name))
	}
	return b.String()
}

// EffectiveFingerprint is the uTLS fingerprint a client of l imitates.
func (l Link) EffectiveFingerprint() string {
	if l.Fingerprint == "" {
		return DefaultFingerprint
	}
	return l.Fingerprint
}

// Validate reports the first field a client would reject or misread.
func (l Link) Validate() error {
	if !isCanonicalUUID(l.UUID) {
		return errors.New("uuid is not a canonical UUID") // never quoted: it is a bearer secret
	}
	return l.ValidateServer()
}

// ValidateServer is Validate without the user: whether links to this
// server (host, port, flow, REALITY settings) are ones clients accept.
func (l Link) ValidateServer() error {
	if err := validateHost(l.Host); err != nil {
		return err
	}
	if l.Port < 1 || l.Port > 65535 {
		return fmt.Errorf("port %d out of range 1-65535", l.Port)
	}
	switch l.Flow {
	case "", FlowVision, FlowVision + "-udp443":
	default:
		return fmt.Errorf("unknown flow %q", l.Flow)
	}
	if k, err := base64.RawURLEncoding.DecodeString(l.PublicKey); err != nil || len(k) != 32 {
		return fmt.Errorf("public key %q is not a base64url X25519 key", l.PublicKey)
	}
	if !isHostName(l.ServerName) {
		return fmt.Errorf("server name %q is not a host name", l.ServerName)
	}
	if !isToken(l.EffectiveFingerprint()) {
		return fmt.Errorf("fingerprint %q is not a uTLS fingerprint name", l.Fingerprint)
	}
	// Xray decodes short ids with hex.DecodeString into 8 bytes.
	if _, err := hex.DecodeString(l.ShortID); err != nil || len(l.ShortID) > 16 {
		return fmt.Errorf("short id %q is not up to 16 hex digits of even length", l.ShortID)
	}
	if l.SpiderX != "" && !strings.HasPrefix(l.SpiderX, "/") {
		return fmt.Errorf("spiderX %q does not start with /", l.SpiderX)
	}
	return nil
}

// Parse reads a vless:// link with REALITY over TCP. It accepts the
// parameter order and escaping of any common panel, applies the same defaults
// String does, and rejects links for other transports or security layers,
// which vpnflow never issues.
func Parse(s string) (Link, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return Link{}, fmt.Errorf("parse vless link: %w", err)
	}
	if !strings.EqualFold(u.Scheme, "vless") {
		return Link{}, fmt.Errorf("parse vless link: scheme %q is not vless", u.Scheme)
	}
	if u.User == nil || u.Opaque != "" {
		return Link{}, errors.New("parse vless link: no user id before @")
	}
	if _, hasPassword := u.User.Password(); hasPassword {
		return Link{}, errors.New("parse vless link: user id must not contain ':'")
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return Link{}, fmt.Errorf("parse vless link: port %q is not a number", u.Port())
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Link{}, fmt.Errorf("parse vless link: query: %w", err)
	}
	if t := q.Get("type"); t != "" && t != "tcp" && t != "raw" {
		return Link{}, fmt.Errorf("parse vless link: transport %q is not tcp", t)
	}
	if sec := q.Get("security"); sec != "reality" {
		return Link{}, fmt.Errorf("parse vless link: security %q is not reality", sec)
	}
	if enc := q.Get("encryption"); enc != "" && enc != "none" {
		return Link{}, fmt.Errorf("parse vless link: encryption %q is not none", enc)
	}
	l := Link{
		UUID:        strings.ToLower(u.User.Username()),
		Host:        u.Hostname(),
		Port:        port,
		Flow:        q.Get("flow"),
		PublicKey:   q.Get("pbk"),
		ServerName:  q.Get("sni"),
		Fingerprint: q.Get("fp"),
		ShortID:     q.Get("sid"),
		SpiderX:     q.Get("spx"),
		Name:        u.Fragment,
	}
	if l.Fingerprint == "" {
		l.Fingerprint = DefaultFingerprint
	}
	if err := l.Validate(); err != nil {
		return Link{}, fmt.Errorf("parse vless link: %w", err)
	}
	return l, nil
}

func isCanonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

func validateHost(h string) error {
	if h == "" {
		return errors.New("host is empty")
	}
	if strings.Contains(h, ":") {
		if ip := net.ParseIP(h); ip == nil {
			return fmt.Errorf("host %q is neither a name nor an IP address", h)
		}
		return nil
	}
	if !isHostName(h) {
		return fmt.Errorf("host %q is not a host name (internationalised names must be given in punycode)", h)
	}
	return nil
}

func isHostName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// escapeName percent-encodes everything but RFC 3986 unreserved characters.
// Clients decode the fragment in different ways (some turn '+' into a space,
// some choke on raw '&' or '#'); fully escaped names read the same in all.
func escapeName(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == '.' || c == '_' || c == '~' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
