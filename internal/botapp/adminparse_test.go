package botapp

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf16"
	"vpnflow/internal/shop"
)

func TestParseAdmin(t *testing.T) {
	ok := func(cmd, args string, check func(adminRequest) bool) {
		t.Helper()
		req, err := parseAdmin(cmd, args)
		if err != nil {
			t.Errorf("/%s %q: %v", cmd, args, err)
			return
		}
		if !check(req) {
			t.Errorf("/%s %q parsed as %+v", cmd, args, req)
		}
	}
	usage := func(cmd, args string) {
		t.Helper()
		if req, err := parseAdmin(cmd, args); !errors.Is(err, errUsage) {
			t.Errorf("/%s %q: got %+v, %v; want usage", cmd, args, req, err)
		}
	}

	ok("stats", "", func(r adminRequest) bool { return r.Cmd == "stats" })
	usage("stats", "now")

	ok("user", "7000000001", func(r adminRequest) bool { return r.Target.ID == 7000000001 })
	ok("user", "@Alice_99", func(r adminRequest) bool { return r.Target.Username == "Alice_99" && r.Target.ID == 0 })
	ok("user", "alice", func(r adminRequest) bool { return r.Target.Username == "alice" })
	for _, bad := range []string{"", "0", "-5", "@", "@ab", "9223372036854775808", "@1abc", "a b", "@al!ce", "@" + strings.Repeat("a", 40)} {
		usage("user", bad)
	}

	ok("grant", "42 7", func(r adminRequest) bool { return r.Target.ID == 42 && r.Days == 7 })
	ok("grant", "@bobby 30d", func(r adminRequest) bool { return r.Target.Username == "bobby" && r.Days == 30 })
	ok("grant", "42 3650", func(r adminRequest) bool { return r.Days == 3650 })
	for _, bad := range []string{"42", "42 0", "42 -1", "42 3651", "42 7x", "42 7 8", "bob! 7", "42 1e3", "42 99999999999999999999"} {
		usage("grant", bad)
	}

	ok("ban", "42", func(r adminRequest) bool { return r.Target.ID == 42 })
	usage("unban", "42 43")

	ok("refund", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", func(r adminRequest) bool {
		return r.PurchaseID.String() == "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	})
	for _, bad := range []string{"", "17", "00000000-0000-0000-0000-000000000000", "not-a-uuid", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b extra"} {
		usage("refund", bad)
	}

	ok("promo", "winter 7d 100", func(r adminRequest) bool {
		return r.Promo == promoTerms{Code: "WINTER", Kind: shop.PromoDays, Value: 7, Uses: 100}
	})
	ok("promo", "SALE 20% 50", func(r adminRequest) bool {
		return r.Promo == promoTerms{Code: "SALE", Kind: shop.PromoPercent, Value: 20, Uses: 50}
	})
	ok("promo", "sale-2025", func(r adminRequest) bool { return r.RedeemCode == "SALE-2025" && r.Promo == promoTerms{} })
	for _, bad := range []string{"", "AB", "WINTER 7 100", "WINTER 7d", "WINTER 0d 5", "SALE 100% 5", "SALE 0% 5", "SALE 20% 0",
		"SALE 20% -1", "SALE 20% 1000001", "SALE% 20% 5", "ЗИМА 7d 5", "WINTER 7d 5 6", strings.Repeat("A", 33)} {
		usage("promo", bad)
	}

	ok("broadcast", "  Hello <b>everyone</b>\nsecond line ", func(r adminRequest) bool {
		return r.Text == "Hello <b>everyone</b>\nsecond line"
	})
	usage("broadcast", "   ")
	ok("broadcast", strings.Repeat("x", maxBroadcastText), func(r adminRequest) bool { return len(r.Text) == maxBroadcastText })
	var tooLong errTooLong
	if _, err := parseAdmin("broadcast", strings.Repeat("x", maxBroadcastText+1)); !errors.As(err, &tooLong) || tooLong.Length != maxBroadcastText+1 {
		t.Errorf("4097 characters: %v", err)
	}
	// Telegram counts UTF-16 units: 2049 emoji are 4098 of them.
	if _, err := parseAdmin("broadcast", strings.Repeat("😀", 2049)); !errors.As(err, &tooLong) || tooLong.Length != 4098 {
		t.Errorf("2049 emoji: %v", err)
	}

	usage("frobnicate", "1")
	for cmd := range adminCommands {
		if adminUsage[cmd] == "" {
			t.Errorf("/%s has no usage text", cmd)
		}
	}
	if adminUsage["promo"] == "" {
		t.Error("/promo has no usage text")
	}
}

// FuzzParseAdmin checks the parser never panics and never accepts
// arguments outside the limits, whatever an admin types.
func FuzzParseAdmin(f *testing.F) {
	for _, seed := range [][2]string{
		{"grant", "42 7"}, {"grant", "@bobby 30d"}, {"promo", "WINTER 7d 100"}, {"promo", "SALE 20% 50"}, {"promo", "x"},
		{"refund", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}, {"user", "@alice"}, {"broadcast", "hi"}, {"ban", "\x00"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, cmd, args string) {
		req, err := parseAdmin(cmd, args)
		if err != nil {
			var tooLong errTooLong
			if !errors.Is(err, errUsage) && !errors.As(err, &tooLong) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		switch cmd {
		case "user", "ban", "unban", "grant":
			if (req.Target.ID > 0) == (req.Target.Username != "") || req.Target.ID < 0 {
				t.Fatalf("target %+v", req.Target)
			}
			if cmd == "grant" && (req.Days < 1 || req.Days > maxGrantDays) {
				t.Fatalf("days %d", req.Days)
			}
		case "promo":
			if req.RedeemCode == "" {
				p := req.Promo
				if !promoCodePattern.MatchString(p.Code) || p.Uses < 1 || p.Uses > maxPromoUses || p.Value < 1 ||
					(p.Kind == shop.PromoPercent && p.Value > maxPromoPercent) || (p.Kind != shop.PromoPercent && p.Kind != shop.PromoDays) {
					t.Fatalf("promo %+v", p)
				}
			} else if !promoCodePattern.MatchString(req.RedeemCode) {
				t.Fatalf("code %q", req.RedeemCode)
			}
		case "broadcast":
			if req.Text == "" || len(utf16.Encode([]rune(req.Text))) > maxBroadcastText {
				t.Fatalf("text of %d bytes", len(req.Text))
			}
		case "stats", "refund":
		default:
			t.Fatalf("accepted unknown command %q", cmd)
		}
	})
}

func TestWorkflowLink(t *testing.T) {
	a := &App{}
	if got := a.workflowLink("purchase/0190<x>"); got != "<code>purchase/0190&lt;x&gt;</code>" {
		t.Errorf("without a UI: %q", got)
	}
	a.cfg.TemporalUIURL, a.cfg.TemporalNamespace = "http://127.0.0.1:8233/", "default"
	want := `<a href="http://127.0.0.1:8233/namespaces/default/workflows?query=WorkflowId%3D%22subscription%2F42%22">subscription/42</a>`
	if got := a.workflowLink("subscription/42"); got != want {
		t.Errorf("with a UI:\n got %s\nwant %s", got, want)
	}
}
