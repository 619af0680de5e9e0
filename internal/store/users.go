package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is a Telegram user who has talked to the bot.
type User struct {
	TelegramID int64     `db:"telegram_id"`
	Username   string    `db:"username"` // without @; "" if none
	FirstName  string    `db:"first_name"`
	Language   string    `db:"language"`
	RefCode    string    `db:"ref_code"`    // share as /start ref_<RefCode>
	ReferrerID int64     `db:"referrer_id"` // 0 if nobody referred this user
	Balance    int64     `db:"balance"`     // minor units of the shop currency
	BotBlocked bool      `db:"bot_blocked"`
	Banned     bool      `db:"banned"`
	Region     string    `db:"region"` // the region chosen for the first key; "" = any
	CreatedAt  time.Time `db:"created_at"`
	UpdatedAt  time.Time `db:"updated_at"`
}

const userColumns = `telegram_id, username, first_name, language, ref_code,
	coalesce(referrer_id, 0) AS referrer_id, balance, bot_blocked, banned, region, created_at, updated_at`

// DefaultLanguage is used when Telegram reports none we can store.
const DefaultLanguage = "en"

// UpsertUserParams is what the bot knows about a user from an update.
type UpsertUserParams struct {
	TelegramID int64
	Username   string
	FirstName  string
	// Language is Telegram's language_code; used only when the user is
	// created, since afterwards the user's own choice wins.
	Language string
	// ReferralCode is the payload of /start ref_<code> (with or without the
	// ref_ prefix); honoured only when the user is new.
	ReferralCode string
}

// Newcomer is the row UpsertUser writes for a user it creates, as far as
// the update decides it (names and language as stored; no referral code,
// referrer, balance or timestamps yet). Its names are also those an
// existing row is updated to.
func (p UpsertUserParams) Newcomer() User {
	return User{
		TelegramID: p.TelegramID,
		Username:   strings.TrimPrefix(strings.TrimSpace(p.Username), "@"),
		FirstName:  strings.TrimSpace(p.FirstName),
		Language:   NormalizeLanguage(p.Language),
	}
}

const (
	qInsertUser = `INSERT INTO users (telegram_id, username, first_name, language, ref_code)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (telegram_id) DO NOTHING
		RETURNING ` + userColumns
	// Only write when something changed: the bot upserts on every message.
	qUpdateUserNames = `UPDATE users SET username = $2, first_name = $3, updated_at = now()
		WHERE telegram_id = $1 AND (username, first_name) IS DISTINCT FROM ($2, $3)
		RETURNING ` + userColumns
	qGetUser = `SELECT ` + userColumns + ` FROM users WHERE telegram_id = $1`
	// qUpsertUser is qInsertUser, else qUpdateUserNames, else qGetUser, in
	// one statement: all three see the table as it was before it, so at
	// most one of them returns the row.
	qUpsertUser = `WITH ins AS (` + qInsertUser + `, true AS created),
		upd AS (` + qUpdateUserNames + `, false AS created)
		SELECT * FROM ins
		UNION ALL SELECT * FROM upd
		UNION ALL SELECT ` + userColumns + `, false AS created FROM users
			WHERE telegram_id = $1 AND NOT EXISTS (SELECT 1 FROM ins) AND NOT EXISTS (SELECT 1 FROM upd)`
	qSetRefer = `UPDATE users u SET referrer_id = r.telegram_id
		FROM users r
		WHERE u.telegram_id = $1 AND r.ref_code = $2 AND r.telegram_id <> $1 AND u.referrer_id IS NULL
		RETURNING r.telegram_id`
	qInsertReferral = `INSERT INTO referrals (referred_id, referrer_id) VALUES ($1, $2)
		ON CONFLICT (referred_id) DO NOTHING`
)

// upsertedUser is a row of qUpsertUser.
type upsertedUser struct {
	User
	Created bool
}

// refCodeAttempts bounds retries on the (astronomically unlikely) collision
// of a fresh random referral code.
const refCodeAttempts = 5

// UpsertUser records a user seen in an update and reports whether it was
// new. A new user gets a referral code and, if ReferralCode names another
// user, that user as referrer (with a referrals row for the bonus). Later
// calls refresh username and first name and never touch the language.
func (s *Store) UpsertUser(ctx context.Context, p UpsertUserParams) (User, bool, error) {
	op := fmt.Sprintf("upsert user %d", p.TelegramID)
	if p.TelegramID <= 0 {
		return User{}, false, fmt.Errorf("%s: %w: telegram id must be positive", op, ErrInvalid)
	}
	row := p.Newcomer()
	username, firstName, lang := row.Username, row.FirstName, row.Language
	refCode := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(p.ReferralCode), "ref_"))

	// Every message upserts its sender before the bot answers, so without
	// a referral code it is one statement outside a transaction; only a
	// referral needs the transaction below.
	if refCode == "" {
		for attempt := 1; attempt <= refCodeAttempts; attempt++ {
			r, err := collectOne[upsertedUser](s.pool.Query(ctx, qUpsertUser, p.TelegramID, username, firstName, lang, newRefCode()))
			if err == nil {
				return r.User, r.Created, nil
			}
			// A taken referral code: draw another. ErrNotFound: another
			// update inserted the user after this statement began.
			if !errors.Is(err, ErrNotFound) && !isUnique(err, "users_ref_code_key") {
				return User{}, false, wrap(op, err)
			}
		}
	}
	var (
		u       User
		created bool
		err     error
	)
	for attempt := 1; ; attempt++ {
		err = s.inTx(ctx, func(tx pgx.Tx) error {
			var qerr error
			created = false
			u, qerr = collectOne[User](tx.Query(ctx, qInsertUser, p.TelegramID, username, firstName, lang, newRefCode()))
			switch {
			case qerr == nil:
				created = true
			case errors.Is(qerr, ErrNotFound): // exists already
				u, qerr = collectOne[User](tx.Query(ctx, qUpdateUserNames, p.TelegramID, username, firstName))
				if errors.Is(qerr, ErrNotFound) {
					u, qerr = collectOne[User](tx.Query(ctx, qGetUser, p.TelegramID))
				}
				return qerr
			default:
				return qerr
			}
			if refCode == "" {
				return nil
			}
			var referrer int64
			err := tx.QueryRow(ctx, qSetRefer, p.TelegramID, refCode).Scan(&referrer)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // unknown code or the user's own: ignore it
			}
			if err != nil {
				return fmt.Errorf("record referrer: %w", err)
			}
			u.ReferrerID = referrer
			if _, err := tx.Exec(ctx, qInsertReferral, p.TelegramID, referrer); err != nil {
				return fmt.Errorf("record referral: %w", err)
			}
			return nil
		})
		if err == nil || !isUnique(err, "users_ref_code_key") || attempt == refCodeAttempts {
			break
		}
	}
	if err != nil {
		return User{}, false, wrap(op, err)
	}
	return u, created, nil
}

// GetUser returns the user or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, telegramID int64) (User, error) {
	u, err := collectOne[User](s.pool.Query(ctx, qGetUser, telegramID))
	return u, wrap(fmt.Sprintf("get user %d", telegramID), err)
}

// UserByUsername finds a user by Telegram username (with or without @,
// case-insensitive). Usernames can move between accounts; the most
// recently seen holder wins.
func (s *Store) UserByUsername(ctx context.Context, username string) (User, error) {
	name := strings.TrimPrefix(strings.TrimSpace(username), "@")
	if name == "" {
		return User{}, fmt.Errorf("user by username: %w: empty username", ErrInvalid)
	}
	u, err := collectOne[User](s.pool.Query(ctx, `SELECT `+userColumns+` FROM users
		WHERE lower(username) = lower($1) AND username <> ''
		ORDER BY updated_at DESC LIMIT 1`, name))
	return u, wrap(fmt.Sprintf("user by username %q", name), err)
}

// SetLanguage stores the language the user picked.
func (s *Store) SetLanguage(ctx context.Context, telegramID int64, language string) error {
	op := fmt.Sprintf("set language of user %d", telegramID)
	lang := strings.ToLower(strings.TrimSpace(language))
	if !validLanguage(lang) {
		return fmt.Errorf("%s: %w: %q is not a language code", op, ErrInvalid, language)
	}
	return wrap(op, s.updateUser(ctx, `UPDATE users SET language = $2, updated_at = now() WHERE telegram_id = $1`, telegramID, lang))
}

// SetBotBlocked records whether the user has blocked the bot (Telegram
// answers 403), so nobody keeps messaging them.
func (s *Store) SetBotBlocked(ctx context.Context, telegramID int64, blocked bool) error {
	return wrap(fmt.Sprintf("set bot blocked of user %d", telegramID),
		s.updateUser(ctx, `UPDATE users SET bot_blocked = $2, updated_at = now() WHERE telegram_id = $1`, telegramID, blocked))
}

// SetBanned bans or unbans a user. In the same transaction the user's
// subscription becomes 'banned', or on unban returns to what its expiry
// says ('active'/'trial' if time is left, else 'expired'); the caller then
// removes or restores the key in Xray. It reports whether anything changed.
func (s *Store) SetBanned(ctx context.Context, telegramID int64, banned bool) (bool, error) {
	var changed bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET banned = $2, updated_at = now()
			WHERE telegram_id = $1 AND banned <> $2`, telegramID, banned)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE telegram_id = $1)`, telegramID).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return ErrNotFound
			}
			return nil
		}
		changed = true
		q := `UPDATE subscriptions SET status = 'banned', updated_at = now()
			WHERE user_id = $1 AND status <> 'banned'`
		event := "banned"
		if !banned {
			q = `UPDATE subscriptions SET updated_at = now(), status = CASE
					WHEN expires_at <= now() THEN 'expired'
					WHEN is_trial THEN 'trial'
					ELSE 'active' END
				WHERE user_id = $1 AND status = 'banned'`
			event = "unbanned"
		}
		if _, err := tx.Exec(ctx, q, telegramID); err != nil {
			return fmt.Errorf("update subscription: %w", err)
		}
		return appendAudit(ctx, tx, telegramID, event, nil)
	})
	return changed, wrap(fmt.Sprintf("set banned=%t for user %d", banned, telegramID), err)
}

func (s *Store) updateUser(ctx context.Context, q string, args ...any) error {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// validLanguage accepts what the schema's users_language_check accepts: a
// lower-case language tag such as "en", "pt-br" or "zh-hans".
func validLanguage(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts[0]) < 2 || len(parts[0]) > 3 || len(s) > 32 {
		return false
	}
	for i, part := range parts {
		if part == "" || len(part) > 8 {
			return false
		}
		for _, r := range part {
			letter := r >= 'a' && r <= 'z'
			digit := r >= '0' && r <= '9'
			if !letter && (i == 0 || !digit) {
				return false
			}
		}
	}
	return true
}

// NormalizeLanguage turns Telegram's language_code into what the schema
// stores, falling back to DefaultLanguage.
func NormalizeLanguage(code string) string {
	lang := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(code)), "_", "-")
	if !validLanguage(lang) {
		return DefaultLanguage
	}
	return lang
}

// newRefCode returns 8 random base32 characters (40 bits: a collision is
// retried, not expected).
func newRefCode() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails since Go 1.24
	for i := range b {
		b[i] = alphabet[b[i]%32]
	}
	return string(b)
}
