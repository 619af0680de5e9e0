package callback

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// everyAction holds one valid value per action; TestEveryActionCovered keeps
// it complete.
var everyAction = []Data{
	{Action: Menu},
	{Action: Buy},
	{Action: Plan, Plan: "1m"},
	{Action: Pay, Plan: "3m", Method: MethodCryptoPay},
	{Action: Pay, Plan: "12m", Method: MethodStars},
	{Action: Pay, Plan: "trial-x.2_b", Method: MethodBalance},
	{Action: Trial},
	{Action: MySub},
	{Action: Balance},
	{Action: TopUp},
	{Action: TopUp, Amount: 500},
	{Action: Invite},
	{Action: Help},
	{Action: Language},
	{Action: SetLang, Lang: "en"},
	{Action: SetLang, Lang: "ru"},
	{Action: Renew},
	{Action: Reissue},
	{Action: AutoRenew, On: true},
	{Action: AutoRenew, On: false},
	{Action: Region, Then: Trial, Region: "eu-2"},
	{Action: Region, Then: Buy, Region: RegionAny},
}

func TestRoundTripEveryAction(t *testing.T) {
	for _, d := range everyAction {
		s, err := Encode(d)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", d, err)
		}
		if !strings.HasPrefix(s, Version+"|") {
			t.Errorf("Encode(%+v) = %q, want version prefix", d, s)
		}
		got, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if got != d {
			t.Errorf("Parse(Encode(%+v)) = %+v", d, got)
		}
	}
}

func TestEveryActionCovered(t *testing.T) {
	all := []Action{Menu, Buy, Plan, Pay, Trial, MySub, Balance, TopUp, Invite, Help, Language, SetLang, Renew, Reissue, AutoRenew, Region}
	seen := map[Action]bool{}
	codes := map[string]Action{}
	for _, a := range all {
		if prev, dup := codes[string(a)]; dup {
			t.Errorf("actions %q and %q share a wire code", prev, a)
		}
		codes[string(a)] = a
		if strings.Contains(string(a), sep) {
			t.Errorf("action %q contains the separator", a)
		}
	}
	for _, d := range everyAction {
		seen[d.Action] = true
	}
	for _, a := range all {
		if !seen[a] {
			t.Errorf("action %q has no round-trip case", a)
		}
	}
}

func TestEncodeWireFormat(t *testing.T) {
	tests := []struct {
		d    Data
		want string
	}{
		{Data{Action: Menu}, "1|menu"},
		{Data{Action: Plan, Plan: "1m"}, "1|plan|1m"},
		{Data{Action: Pay, Plan: "1m", Method: MethodStars}, "1|pay|1m|stars"},
		{Data{Action: TopUp}, "1|topup"},
		{Data{Action: TopUp, Amount: 1000}, "1|topup|1000"},
		{Data{Action: SetLang, Lang: "ru"}, "1|setlang|ru"},
		{Data{Action: AutoRenew, On: true}, "1|auto|on"},
		{Data{Action: AutoRenew}, "1|auto|off"},
	}
	for _, tt := range tests {
		got, err := Encode(tt.d)
		if err != nil || got != tt.want {
			t.Errorf("Encode(%+v) = %q, %v; want %q", tt.d, got, err, tt.want)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name string
		d    Data
	}{
		{"zero value", Data{}},
		{"unknown action", Data{Action: "nope"}},
		{"plan missing", Data{Action: Plan}},
		{"plan too long", Data{Action: Plan, Plan: strings.Repeat("a", MaxPlanIDLen+1)}},
		{"plan with separator", Data{Action: Plan, Plan: "1|m"}},
		{"plan with space", Data{Action: Plan, Plan: "1 m"}},
		{"plan not ascii", Data{Action: Plan, Plan: "1м"}},
		{"method missing", Data{Action: Pay, Plan: "1m"}},
		{"method unknown", Data{Action: Pay, Plan: "1m", Method: "card"}},
		{"lang upper", Data{Action: SetLang, Lang: "EN"}},
		{"lang long", Data{Action: SetLang, Lang: "eng"}},
		{"lang missing", Data{Action: SetLang}},
		{"negative amount", Data{Action: TopUp, Amount: -1}},
		{"plan on menu", Data{Action: Menu, Plan: "1m"}},
		{"method on plan", Data{Action: Plan, Plan: "1m", Method: MethodStars}},
		{"amount on pay", Data{Action: Pay, Plan: "1m", Method: MethodStars, Amount: 1}},
		{"lang on help", Data{Action: Help, Lang: "en"}},
		{"on on renew", Data{Action: Renew, On: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := Encode(tt.d); err == nil {
				t.Errorf("Encode(%+v) = %q, want error", tt.d, s)
			}
		})
	}
}

func TestMustEncodePanicsOnInvalid(t *testing.T) {
	if got := MustEncode(Data{Action: Help}); got != "1|help" {
		t.Errorf("MustEncode(help) = %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustEncode of an invalid value did not panic")
		}
	}()
	MustEncode(Data{Action: "nope"})
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrMalformed},
		{"0|menu", ErrStale},
		{"2|menu", ErrStale},
		{"10|menu", ErrStale},
		{"buy_1m", ErrStale}, // a pre-versioning button
		{"menu", ErrStale},
		{"|menu", ErrStale},
		{"1", ErrMalformed},
		{"1|", ErrMalformed},
		{"1|nope", ErrMalformed},
		{"1|MENU", ErrMalformed},
		{"1|menu|", ErrMalformed},
		{"1|menu|x", ErrMalformed},
		{"1|region|trial", ErrMalformed},
		{"1|region|menu|eu", ErrMalformed},
		{"1|region|buy|EU", ErrMalformed},
		{"1|region|buy|-eu", ErrMalformed},
		{"1|plan", ErrMalformed},
		{"1|plan|", ErrMalformed},
		{"1|plan|1m|x", ErrMalformed},
		{"1|plan|1 m", ErrMalformed},
		{"1|plan|1м", ErrMalformed},
		{"1|plan|" + strings.Repeat("a", MaxPlanIDLen+1), ErrMalformed},
		{"1|pay|1m", ErrMalformed},
		{"1|pay|1m|card", ErrMalformed},
		{"1|pay|1m|Stars", ErrMalformed},
		{"1|pay|1m|stars|", ErrMalformed},
		{"1|topup|", ErrMalformed},
		{"1|topup|0", ErrMalformed},
		{"1|topup|0500", ErrMalformed},
		{"1|topup|+500", ErrMalformed},
		{"1|topup|-500", ErrMalformed},
		{"1|topup|5e2", ErrMalformed},
		{"1|topup|9223372036854775808", ErrMalformed},
		{"1|topup|1|2", ErrMalformed},
		{"1|setlang", ErrMalformed},
		{"1|setlang|EN", ErrMalformed},
		{"1|setlang|e", ErrMalformed},
		{"1|setlang|ру", ErrMalformed},
		{"1|auto", ErrMalformed},
		{"1|auto|yes", ErrMalformed},
		{"1|auto|ON", ErrMalformed},
		{"1|help|\xff", ErrMalformed},
		{"1|menu" + strings.Repeat(" ", MaxLen), ErrMalformed},
	}
	for _, tt := range tests {
		d, err := Parse(tt.in)
		if !errors.Is(err, tt.want) {
			t.Errorf("Parse(%q) = %+v, %v; want %v", tt.in, d, err, tt.want)
		}
		if err != nil && d != (Data{}) {
			t.Errorf("Parse(%q) failed but returned %+v", tt.in, d)
		}
	}
}

func TestParseErrorSaysWhy(t *testing.T) {
	_, err := Parse("1|pay|1m|card")
	if err == nil || !strings.Contains(err.Error(), `"card"`) {
		t.Errorf("Parse error %v does not name the bad value", err)
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		in   string
		want Data
	}{
		{"1|menu", Data{Action: Menu}},
		{"1|pay|12m|cryptopay", Data{Action: Pay, Plan: "12m", Method: MethodCryptoPay}},
		{"1|topup|9223372036854775807", Data{Action: TopUp, Amount: 9223372036854775807}},
		{"1|auto|off", Data{Action: AutoRenew}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// TestLongestEncodingsFit builds every action with its largest possible
// fields; a future action or field that could overflow Telegram's limit
// fails here rather than in production.
func TestLongestEncodingsFit(t *testing.T) {
	longPlan := strings.Repeat("x", MaxPlanIDLen)
	for _, d := range everyAction {
		if d.Plan != "" {
			d.Plan = longPlan
		}
		if d.Method != "" {
			d.Method = MethodCryptoPay // the longest method
		}
		if d.Action == TopUp {
			d.Amount = 1<<63 - 1
		}
		s, err := Encode(d)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", d, err)
		}
		if len(s) > MaxLen {
			t.Errorf("Encode(%+v) = %d bytes, over %d", d, len(s), MaxLen)
		}
		if got, err := Parse(s); err != nil || got != d {
			t.Errorf("Parse(%q) = %+v, %v", s, got, err)
		}
	}
}

func TestParseRejectsOverLimit(t *testing.T) {
	// Exactly at the limit is fine when the content is valid...
	s := "1|topup|" + strconv.FormatInt(1<<63-1, 10)
	if _, err := Parse(s); err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	// ...one byte over is rejected before looking at the content.
	long := "1|help" + strings.Repeat("|", MaxLen-len("1|help")+1)
	if len(long) != MaxLen+1 {
		t.Fatalf("test setup: %d bytes", len(long))
	}
	_, err := Parse(long)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("Parse(%d bytes) = %v, want the length error", len(long), err)
	}
}
