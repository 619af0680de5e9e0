package botapp

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"

	"vpnflow/internal/nodeadmin"
	"vpnflow/internal/shop"

	"github.com/google/uuid"
)

// Limits on admin command arguments: generous for real use, small enough
// that nothing downstream overflows.
const (
	maxGrantDays     = 3650
	maxPromoUses     = 1_000_000
	maxPromoPercent  = 99 // 100% is free access: a days code says that better
	maxBroadcastText = 4096
)

// adminUsage is each admin command's syntax, shown for malformed input.
var adminUsage = map[string]string{
	"stats":     "/stats",
	"user":      "/user <id | @username>",
	"grant":     "/grant <id | @username> <days>",
	"ban":       "/ban <id | @username>",
	"unban":     "/unban <id | @username>",
	"refund":    "/refund <purchase id>",
	"promo":     "/promo <CODE> <days>d <uses>\n/promo <CODE> <percent>% <uses>\n/promo <CODE>",
	"broadcast": "/broadcast <text, up to 4096 characters>",
	"nodes":     "/nodes",
	"node":      "/node " + strings.ReplaceAll(nodeadmin.Usage, "\n", "\n/node "),
}

// target names a user as admins do: a Telegram id or a @username.
type target struct {
	ID       int64
	Username string // without @; set when ID is 0
}

func (t target) String() string {
	if t.ID > 0 {
		return strconv.FormatInt(t.ID, 10)
	}
	return "@" + t.Username
}

// promoTerms is a promo code to create.
type promoTerms struct {
	Code  string // normalized
	Kind  string // shop.PromoDays or shop.PromoPercent
	Value int
	Uses  int
}

// adminRequest is a parsed admin command.
type adminRequest struct {
	Cmd        string
	Target     target     // user, grant, ban, unban
	Days       int        // grant
	PurchaseID uuid.UUID  // refund
	Promo      promoTerms // promo (create)
	RedeemCode string     // promo with one argument: redeem it
	Text       string     // broadcast
}

// errUsage is malformed arguments: the reply is the command's usage.
var errUsage = errors.New("malformed arguments")

// errTooLong is a broadcast text over Telegram's limit.
type errTooLong struct{ Length int }

func (e errTooLong) Error() string {
	return fmt.Sprintf("text is %d characters, over %d", e.Length, maxBroadcastText)
}

var (
	usernamePattern  = regexp.MustCompile(`^@?[A-Za-z][A-Za-z0-9_]{3,31}$`)
	promoCodePattern = regexp.MustCompile(`^[A-Z0-9_-]{3,32}$`)
)

// parseAdmin reads an admin command's arguments. Errors are errUsage or
// errTooLong; it never panics, whatever the input.
func parseAdmin(cmd, args string) (adminRequest, error) {
	req := adminRequest{Cmd: cmd}
	fields := strings.Fields(args)
	var err error
	switch cmd {
	case "stats":
		if len(fields) != 0 {
			return req, errUsage
		}
	case "user", "ban", "unban":
		if len(fields) != 1 {
			return req, errUsage
		}
		req.Target, err = parseTarget(fields[0])
	case "grant":
		if len(fields) != 2 {
			return req, errUsage
		}
		if req.Target, err = parseTarget(fields[0]); err == nil {
			req.Days, err = parseCount(strings.TrimSuffix(strings.ToLower(fields[1]), "d"), maxGrantDays)
		}
	case "refund":
		if len(fields) != 1 {
			return req, errUsage
		}
		if req.PurchaseID, err = uuid.Parse(fields[0]); err != nil || req.PurchaseID == uuid.Nil {
			err = errUsage
		}
	case "promo":
		switch len(fields) {
		case 1:
			req.RedeemCode, err = parsePromoCode(fields[0])
		case 3:
			req.Promo, err = parsePromoTerms(fields[0], fields[1], fields[2])
		default:
			err = errUsage
		}
	case "broadcast":
		req.Text = strings.TrimSpace(args)
		if req.Text == "" {
			return req, errUsage
		}
		// Telegram counts UTF-16 code units: an emoji is two.
		if n := len(utf16.Encode([]rune(req.Text))); n > maxBroadcastText {
			return req, errTooLong{Length: n}
		}
	default:
		return req, errUsage
	}
	if err != nil {
		return req, errUsage
	}
	return req, nil
}

func parseTarget(s string) (target, error) {
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		if id <= 0 {
			return target{}, errUsage
		}
		return target{ID: id}, nil
	}
	if !usernamePattern.MatchString(s) {
		return target{}, errUsage
	}
	return target{Username: strings.TrimPrefix(s, "@")}, nil
}

// parseCount reads a whole number from 1 to limit.
func parseCount(s string, limit int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > limit {
		return 0, errUsage
	}
	return n, nil
}

func parsePromoCode(s string) (string, error) {
	code := shop.NormalizePromoCode(s)
	if !promoCodePattern.MatchString(code) {
		return "", errUsage
	}
	return code, nil
}

// parsePromoTerms reads "<CODE> <n>d|<n>% <uses>".
func parsePromoTerms(code, value, uses string) (promoTerms, error) {
	var t promoTerms
	var err error
	if t.Code, err = parsePromoCode(code); err != nil {
		return t, err
	}
	value = strings.ToLower(value)
	switch {
	case strings.HasSuffix(value, "d"):
		t.Kind = shop.PromoDays
		t.Value, err = parseCount(strings.TrimSuffix(value, "d"), maxGrantDays)
	case strings.HasSuffix(value, "%"):
		t.Kind = shop.PromoPercent
		t.Value, err = parseCount(strings.TrimSuffix(value, "%"), maxPromoPercent)
	default:
		err = errUsage
	}
	if err != nil {
		return t, err
	}
	t.Uses, err = parseCount(uses, maxPromoUses)
	return t, err
}
