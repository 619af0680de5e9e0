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

// ParseUserEmail returns the Telegram id of an email UserEmail produced for
// domain. ok is false for anything else — users another tool put into the
// same Xray, which reconciliation must leave alone.
func ParseUserEmail(email, domain string) (telegramID int64, ok bool) {
	local, ok := strings.CutSuffix(email, "@"+domain)
	if !ok || domain == "" {
		return 0, false
	}
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
