package callback

import (
	"fmt"
	"strconv"
	"strings"
)

const sep = "|"

// field is one positional argument after the action.
type field int

const (
	fieldPlan field = iota
	fieldMethod
	fieldLang
	fieldAmount // optional, and only ever last
	fieldOn
	fieldThen
	fieldRegion
)

// layout lists the arguments an action carries, in wire order.
func layout(a Action) ([]field, bool) {
	switch a {
	case Menu, Buy, Trial, MySub, Balance, Invite, Help, Language, Renew, Reissue:
		return nil, true
	case Plan:
		return []field{fieldPlan}, true
	case Pay:
		return []field{fieldPlan, fieldMethod}, true
	case TopUp:
		return []field{fieldAmount}, true
	case SetLang:
		return []field{fieldLang}, true
	case AutoRenew:
		return []field{fieldOn}, true
	case Region:
		return []field{fieldThen, fieldRegion}, true
	}
	return nil, false
}

// Encode returns the callback_data for d. It fails when d's action is
// unknown, a field is invalid, or a field is set that the action does not
// carry.
func Encode(d Data) (string, error) {
	fields, ok := layout(d.Action)
	if !ok {
		return "", fmt.Errorf("encode callback: unknown action %q", d.Action)
	}
	if err := checkUnused(d, fields); err != nil {
		return "", fmt.Errorf("encode %s callback: %w", d.Action, err)
	}
	var b strings.Builder
	b.WriteString(Version)
	b.WriteString(sep)
	b.WriteString(string(d.Action))
	for _, f := range fields {
		arg, err := encodeField(d, f)
		if err != nil {
			return "", fmt.Errorf("encode %s callback: %w", d.Action, err)
		}
		if arg == "" { // an omitted optional field
			continue
		}
		b.WriteString(sep)
		b.WriteString(arg)
	}
	if b.Len() > MaxLen {
		return "", fmt.Errorf("encode %s callback: %q is %d bytes, over Telegram's %d-byte limit", d.Action, b.String(), b.Len(), MaxLen)
	}
	return b.String(), nil
}

// MustEncode is Encode for values fixed in code, such as the main menu
// buttons; it panics on error because that is a programming mistake.
func MustEncode(d Data) string {
	s, err := Encode(d)
	if err != nil {
		panic(err)
	}
	return s
}

func checkUnused(d Data, fields []field) error {
	uses := func(want field) bool {
		for _, f := range fields {
			if f == want {
				return true
			}
		}
		return false
	}
	switch {
	case d.Plan != "" && !uses(fieldPlan):
		return fmt.Errorf("plan %q set but not carried", d.Plan)
	case d.Method != "" && !uses(fieldMethod):
		return fmt.Errorf("method %q set but not carried", d.Method)
	case d.Lang != "" && !uses(fieldLang):
		return fmt.Errorf("lang %q set but not carried", d.Lang)
	case d.Amount != 0 && !uses(fieldAmount):
		return fmt.Errorf("amount %d set but not carried", d.Amount)
	case d.On && !uses(fieldOn):
		return fmt.Errorf("on set but not carried")
	case d.Region != "" && !uses(fieldRegion):
		return fmt.Errorf("region %q set but not carried", d.Region)
	case d.Then != "" && !uses(fieldThen):
		return fmt.Errorf("then %q set but not carried", d.Then)
	}
	return nil
}

func encodeField(d Data, f field) (string, error) {
	switch f {
	case fieldPlan:
		if !ValidPlanID(d.Plan) {
			return "", fmt.Errorf("plan id %q must be 1-%d of A-Z a-z 0-9 . _ -", d.Plan, MaxPlanIDLen)
		}
		return d.Plan, nil
	case fieldMethod:
		if !validMethod(d.Method) {
			return "", fmt.Errorf("unknown payment method %q", d.Method)
		}
		return string(d.Method), nil
	case fieldLang:
		if !validLang(d.Lang) {
			return "", fmt.Errorf("language %q must be two lowercase letters", d.Lang)
		}
		return d.Lang, nil
	case fieldAmount:
		if d.Amount < 0 {
			return "", fmt.Errorf("amount %d is negative", d.Amount)
		}
		if d.Amount == 0 {
			return "", nil
		}
		return strconv.FormatInt(d.Amount, 10), nil
	case fieldOn:
		if d.On {
			return "on", nil
		}
		return "off", nil
	case fieldThen:
		if !validThen(d.Then) {
			return "", fmt.Errorf("then %q must be %s or %s", d.Then, Trial, Buy)
		}
		return string(d.Then), nil
	case fieldRegion:
		if !ValidRegion(d.Region) {
			return "", fmt.Errorf("region %q must be 1-32 of a-z 0-9 - or %q", d.Region, RegionAny)
		}
		return d.Region, nil
	}
	return "", fmt.Errorf("unknown field %d", f)
}

// Parse decodes callback_data. It is the only place callback data is read.
// Data from another version wraps ErrStale; anything else it cannot decode
// wraps ErrMalformed. Whatever Parse accepts, Encode turns back into the same
// string.
func Parse(s string) (Data, error) {
	if s == "" {
		return Data{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if len(s) > MaxLen {
		return Data{}, fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrMalformed, len(s), MaxLen)
	}
	parts := strings.Split(s, sep)
	if parts[0] != Version {
		return Data{}, fmt.Errorf("%w: version %.10q, want %s", ErrStale, parts[0], Version)
	}
	if len(parts) < 2 {
		return Data{}, fmt.Errorf("%w: no action", ErrMalformed)
	}
	d := Data{Action: Action(parts[1])}
	fields, ok := layout(d.Action)
	if !ok {
		return Data{}, fmt.Errorf("%w: unknown action %q", ErrMalformed, parts[1])
	}
	args := parts[2:]
	required := len(fields)
	if required > 0 && fields[required-1] == fieldAmount {
		required--
	}
	if len(args) < required || len(args) > len(fields) {
		return Data{}, fmt.Errorf("%w: %s takes %d-%d arguments, got %d", ErrMalformed, d.Action, required, len(fields), len(args))
	}
	for i, arg := range args {
		if err := decodeField(&d, fields[i], arg); err != nil {
			return Data{}, fmt.Errorf("%w: %s argument %d: %w", ErrMalformed, d.Action, i+1, err)
		}
	}
	return d, nil
}

func decodeField(d *Data, f field, arg string) error {
	switch f {
	case fieldPlan:
		if !ValidPlanID(arg) {
			return fmt.Errorf("bad plan id %q", arg)
		}
		d.Plan = arg
	case fieldMethod:
		if !validMethod(Method(arg)) {
			return fmt.Errorf("unknown payment method %q", arg)
		}
		d.Method = Method(arg)
	case fieldLang:
		if !validLang(arg) {
			return fmt.Errorf("bad language %q", arg)
		}
		d.Lang = arg
	case fieldAmount:
		n, err := parseAmount(arg)
		if err != nil {
			return err
		}
		d.Amount = n
	case fieldOn:
		switch arg {
		case "on":
			d.On = true
		case "off":
			d.On = false
		default:
			return fmt.Errorf("want on or off, got %q", arg)
		}
	case fieldThen:
		if !validThen(Action(arg)) {
			return fmt.Errorf("bad then %q", arg)
		}
		d.Then = Action(arg)
	case fieldRegion:
		if !ValidRegion(arg) {
			return fmt.Errorf("bad region %q", arg)
		}
		d.Region = arg
	default:
		return fmt.Errorf("unknown field %d", f)
	}
	return nil
}

func validThen(a Action) bool { return a == Trial || a == Buy }

// ValidRegion reports whether s can travel as a region: a node region
// label (1-32 of a-z, 0-9 and '-', not starting with '-') or RegionAny.
func ValidRegion(s string) bool {
	if s == "" || len(s) > 32 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// parseAmount accepts only the canonical form Encode writes: a positive
// decimal without sign or leading zeros, so that each amount has one encoding.
func parseAmount(s string) (int64, error) {
	if s == "" || s[0] == '0' {
		return 0, fmt.Errorf("amount %q must be a positive number without leading zeros", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("amount %q is not a number", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	return n, nil
}

// ValidPlanID reports whether id can travel in callback data: 1 to
// MaxPlanIDLen bytes of ASCII letters, digits, '.', '_' and '-'.
func ValidPlanID(id string) bool {
	if id == "" || len(id) > MaxPlanIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func validMethod(m Method) bool {
	switch m {
	case MethodCryptoPay, MethodStars, MethodBalance:
		return true
	}
	return false
}

func validLang(s string) bool {
	return len(s) == 2 && 'a' <= s[0] && s[0] <= 'z' && 'a' <= s[1] && s[1] <= 'z'
}
