package xray

import (
	"strconv"
	"strings"
)

// UserEmail is the Xray email (the user's key in Xray and in its stats
// counter names) for a Telegram user: "tg<id>@<domain>". It depends on the
// Telegram id only, so it stays the same when the user's key is reissued.
// telegramID must be positive.
func UserEmail(telegramID int64, domain string) string {
	return "tg" + strconv.FormatInt(telegramID, 10) + "@" + domain
}

// KeyEmail is the email of a user's key after reissues: version 0 is
// UserEmail; later versions are "tg<id>.k<version>@<domain>". A reissue adds
// the new key under the next version's email before removing the old one,
// so the old key keeps working until the new one has been delivered.
func KeyEmail(telegramID int64, version int, domain string) string {
	if version <= 0 {
		return UserEmail(telegramID, domain)
	}
	return "tg" + strconv.FormatInt(telegramID, 10) + ".k" + strconv.Itoa(version) + "@" + domain
}

// NextKeyEmail is the email of the key that replaces the one named email.
func NextKeyEmail(email, domain string) (string, bool) {
	id, version, ok := ParseKeyEmail(email, domain)
	if !ok {
		return "", false
	}
	return KeyEmail(id, version+1, domain), true
}

// ParseKeyEmail is ParseUserEmail that also reports the key version.
func ParseKeyEmail(email, domain string) (telegramID int64, version int, ok bool) {
	local, ok := strings.CutSuffix(email, "@"+domain)
	if !ok || domain == "" {
		return 0, 0, false
	}
	if base, v, found := strings.Cut(local, ".k"); found {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || v[0] == '0' || strconv.Itoa(n) != v {
			return 0, 0, false
		}
		id, ok := parseBase(base)
		return id, n, ok
	}
	id, ok := parseBase(local)
	return id, 0, ok
}

// ParseUserEmail returns the Telegram id of an email UserEmail or KeyEmail
// produced for domain. ok is false for anything else — users another tool
// put into the same Xray, which reconciliation must leave alone.
func ParseUserEmail(email, domain string) (telegramID int64, ok bool) {
	id, _, ok := ParseKeyEmail(email, domain)
	return id, ok
}

// parseBase reads "tg<id>".
func parseBase(local string) (int64, bool) {
	digits, ok := strings.CutPrefix(local, "tg")
	if !ok || digits == "" || digits[0] == '0' {
		return 0, false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return id, true
}
