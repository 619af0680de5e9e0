package xray

import "testing"

func TestUserEmailRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 123456789, 7_000_000_000, 1<<63 - 1} {
		email := UserEmail(id, "vpnflow")
		got, ok := ParseUserEmail(email, "vpnflow")
		if !ok || got != id {
			t.Errorf("ParseUserEmail(%q) = %d, %v; want %d, true", email, got, ok, id)
		}
		if err := validateEmail(email); err != nil {
			t.Errorf("UserEmail(%d) = %q is not a valid Xray email: %v", id, email, err)
		}
	}
	if got := UserEmail(123456789, "vpnflow"); got != "tg123456789@vpnflow" {
		t.Errorf("UserEmail = %q, want tg123456789@vpnflow", got)
	}
}

func TestParseUserEmailRejectsForeignUsers(t *testing.T) {
	for _, email := range []string{
		"tg123@other",                    // another domain
		"tg123@vpnflow.example",          // domain is a prefix only
		"tg123@vpnflow@vpnflow",          // not digits
		"user123@vpnflow",                // another prefix
		"tg@vpnflow",                     // no id
		"tg0@vpnflow",                    // zero is no Telegram user
		"tg0123@vpnflow",                 // not canonical: would map two emails to one id
		"tg+123@vpnflow",                 // sign
		"tg-123@vpnflow",                 // negative ids are chats, not users
		"tg99999999999999999999@vpnflow", // overflows int64
		"TG123@vpnflow",
		"",
	} {
		if id, ok := ParseUserEmail(email, "vpnflow"); ok {
			t.Errorf("ParseUserEmail(%q) = %d, true; want false", email, id)
		}
	}
	if _, ok := ParseUserEmail("tg1@", ""); ok {
		t.Error("an empty domain matched")
	}
}

func TestParseCounterName(t *testing.T) {
	tests := []struct {
		name, email, dir string
		ok               bool
	}{
		{"user>>>tg1@vpnflow>>>traffic>>>uplink", "tg1@vpnflow", "uplink", true},
		{"user>>>tg1@vpnflow>>>traffic>>>downlink", "tg1@vpnflow", "downlink", true},
		{"user>>>tg1@vpnflow>>>online", "", "", false},
		{"inbound>>>vless-in>>>traffic>>>uplink", "", "", false},
		{"user>>>>>>traffic>>>uplink", "", "", false},
	}
	for _, tt := range tests {
		email, dir, ok := parseCounterName(tt.name)
		if email != tt.email || dir != tt.dir || ok != tt.ok {
			t.Errorf("parseCounterName(%q) = %q, %q, %v; want %q, %q, %v", tt.name, email, dir, ok, tt.email, tt.dir, tt.ok)
		}
	}
}

func TestKeyEmails(t *testing.T) {
	if got := KeyEmail(42, 0, "vpnflow"); got != "tg42@vpnflow" {
		t.Errorf("version 0: %s", got)
	}
	if got := KeyEmail(42, 3, "vpnflow"); got != "tg42.k3@vpnflow" {
		t.Errorf("version 3: %s", got)
	}
	next, ok := NextKeyEmail("tg42@vpnflow", "vpnflow")
	if !ok || next != "tg42.k1@vpnflow" {
		t.Errorf("next of v0: %s %v", next, ok)
	}
	next, ok = NextKeyEmail("tg42.k9@vpnflow", "vpnflow")
	if !ok || next != "tg42.k10@vpnflow" {
		t.Errorf("next of v9: %s %v", next, ok)
	}
	for _, bad := range []string{"tg42.k0@vpnflow", "tg42.k01@vpnflow", "tg42.kx@vpnflow", "tg42.k@vpnflow", "tg42.k3@other", "bob.k3@vpnflow"} {
		if _, _, ok := ParseKeyEmail(bad, "vpnflow"); ok {
			t.Errorf("%s parsed", bad)
		}
	}
	if id, v, ok := ParseKeyEmail("tg42.k7@vpnflow", "vpnflow"); !ok || id != 42 || v != 7 {
		t.Errorf("parse: %d %d %v", id, v, ok)
	}
}
