package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// URLTokenBytes is the randomness in a subscription URL token: 256 bits,
// written as 43 base64url characters.
const URLTokenBytes = 32

// URLTokenLen is the length of a token in the URL.
var URLTokenLen = base64.RawURLEncoding.EncodedLen(URLTokenBytes)

// NewURLToken mints a subscription URL token from crypto/rand.
func NewURLToken() string {
	b := make([]byte, URLTokenBytes)
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Feed is what a subscription URL serves: the user's key, its state and
// the nodes it is on. VLESSUUID is a bearer secret; String and LogValue
// leave it out.
type Feed struct {
	UserID      int64
	VLESSUUID   uuid.UUID
	Status      string
	ExpiresAt   time.Time
	TrafficUp   int64
	TrafficDown int64
	Language    string
	Nodes       []Node // by id; each one serves the key
}

// Live reports whether the key belongs in Xray at now (Subscription.LiveAt).
func (f Feed) Live(now time.Time) bool {
	return Subscription{Status: f.Status, ExpiresAt: f.ExpiresAt}.LiveAt(now)
}

// String describes the feed without its key.
func (f Feed) String() string {
	return fmt.Sprintf("feed{user=%d status=%s expires=%s nodes=%d}",
		f.UserID, f.Status, f.ExpiresAt.UTC().Format(time.RFC3339), len(f.Nodes))
}

// GoString keeps %#v from printing the key too.
func (f Feed) GoString() string { return f.String() }

// LogValue describes the feed to slog without its key.
func (f Feed) LogValue() slog.Value {
	return slog.GroupValue(slog.Int64("user_id", f.UserID), slog.String("status", f.Status), slog.Int("nodes", len(f.Nodes)))
}

// feedRow is one row of qFeed: the subscription with one of its nodes.
type feedRow struct {
	UserID      int64     `db:"user_id"`
	VLESSUUID   uuid.UUID `db:"vless_uuid"`
	Status      string    `db:"status"`
	ExpiresAt   time.Time `db:"expires_at"`
	TrafficUp   int64     `db:"traffic_up"`
	TrafficDown int64     `db:"traffic_down"`
	Language    string    `db:"language"`
	Node
}

// qFeed reads a feed in one statement: one row per node the key is on.
// Today a subscription names its one node; when keys live on several nodes,
// this join is the one place that learns where they are.
const qFeed = `SELECT s.user_id, s.vless_uuid, s.status, s.expires_at, s.traffic_up, s.traffic_down, u.language,
		n.id, n.name, n.api_addr, n.inbound_tag, n.host, n.port, n.region, n.reality_public_key, n.reality_sni,
		n.reality_short_id, n.capacity, n.state, n.created_at, n.updated_at, n.checked_at, n.healthy_at, n.health_error,
		n.failed_over_at, n.agent_url
	FROM subscriptions s
	JOIN users u ON u.telegram_id = s.user_id
	JOIN nodes n ON n.id = s.node_id
	WHERE s.url_token_hash = $1
	ORDER BY n.id`

// FeedByToken returns the feed of the subscription whose URL token is
// token, or ErrNotFound. The database is searched by the token's SHA-256,
// never by the token: the comparison's timing tells nothing about the
// secret, and the token itself never reaches the database or its logs.
func (s *Store) FeedByToken(ctx context.Context, token string) (Feed, error) {
	digest := sha256.Sum256([]byte(token))
	rows, err := collectAll[feedRow](s.pool.Query(ctx, qFeed, digest[:]))
	if err == nil && len(rows) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return Feed{}, wrap("read subscription feed", err)
	}
	r := rows[0]
	f := Feed{UserID: r.UserID, VLESSUUID: r.VLESSUUID, Status: r.Status, ExpiresAt: r.ExpiresAt,
		TrafficUp: r.TrafficUp, TrafficDown: r.TrafficDown, Language: r.Language}
	for _, r := range rows {
		f.Nodes = append(f.Nodes, r.Node)
	}
	return f, nil
}
