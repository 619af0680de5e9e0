package i18n

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
)

// hostile is what a user might put in their name to break a message.
const hostile = `<b>Ann</b> & "Bob" <script>`

// sampleData has, for every message, the data callers are documented to
// pass, with user-controlled values made hostile.
func sampleData() map[string]map[string]any {
	expires := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	money := FormatMoney("en", 300, "USD")
	return map[string]map[string]any{
		"menu_text":         {"Name": hostile},
		"btn_buy":           nil,
		"btn_renew":         nil,
		"btn_trial":         nil,
		"btn_my_sub":        nil,
		"btn_balance":       nil,
		"btn_invite":        nil,
		"btn_help":          nil,
		"btn_language":      nil,
		"btn_back":          nil,
		"btn_reissue":       nil,
		"btn_topup":         nil,
		"btn_autorenew_on":  nil,
		"btn_autorenew_off": nil,
		"btn_pay_cryptopay": nil,
		"btn_pay_stars":     nil,
		"btn_pay_balance":   {"Balance": money},
		"btn_pay_link":      {"Amount": money},
		"btn_temporal_ui":   nil,

		"plans_title":                   nil,
		"plan_button":                   {"Plan": "1m", "Duration": 30 * 24 * time.Hour, "Price": money, "Stars": "150 ⭐"},
		"choose_payment":                {"Plan": "1m<>", "Duration": 30 * 24 * time.Hour, "Price": money, "Stars": "150 ⭐"},
		"invoice_cryptopay":             {"Plan": "1m", "Amount": money, "TTL": time.Hour},
		"invoice_stars_title":           {"Plan": "12m"},
		"invoice_stars_description":     {"Plan": "12m", "Duration": 365 * 24 * time.Hour},
		"cryptopay_invoice_description": {"Plan": "12m", "Duration": 365 * 24 * time.Hour},
		"cryptopay_topup_description":   {"Amount": money},
		"topup_title":                   nil,
		"topup_choose":                  nil,
		"invoice_topup":                 {"Amount": money, "TTL": time.Hour},
		"purchase_started":              nil,
		"purchase_from_balance":         nil,
		"message_too_long":              nil,
		"checkout_try_again":            nil,
		"purchase_expired":              {"Plan": "1m"},
		"topup_expired":                 {"Amount": money},
		"payment_received":              nil,
		"activation_in_progress":        nil,

		"key_message":           {"Plan": "1m", "Expires": expires, "Link": "vless://uuid@vpn.example:443?type=tcp&security=reality&sni=a.b#vpn<1>", "Email": "u42-1<x>", "URL": "https://vpn.example/sub/t<1>"},
		"key_caption":           nil,
		"subscription_extended": {"Expires": expires},

		"sub_status":            {"Status": HTML("✅ Active"), "Expires": expires, "Email": "u42-1", "Traffic": FormatBytes("en", 3<<30), "AutoRenew": HTML("✅ on")},
		"sub_none":              nil,
		"sub_links":             {"URL": "https://vpn.example/sub/t<1>", "Link": "vless://uuid@vpn.example:443?a=1&b=2#n"},
		"profile_title_expired": {"Title": "vpn<&>"},
		"profile_title_banned":  {"Title": "vpn<&>"},
		"status_trial":          nil,
		"status_active":         nil,
		"status_expired":        nil,
		"status_banned":         nil,
		"status_expiring":       nil,
		"autorenew_state_on":    nil,
		"autorenew_state_off":   nil,

		"trial_started":    {"Duration": 72 * time.Hour},
		"trial_used":       nil,
		"trial_active_sub": nil,

		"balance_text":         {"Balance": money},
		"topup_done":           {"Amount": money, "Balance": money},
		"insufficient_balance": {"Price": money, "Balance": money},

		"invite_text":    {"Link": "https://t.me/vpnflow_bot?start=r42&x=<1>", "Bonus": money, "Percent": 10, "Count": 3},
		"referral_bonus": {"Bonus": money},

		"help_text":       nil,
		"language_choose": nil,
		"language_set":    nil,

		"stale_button":    nil,
		"rate_limited":    nil,
		"error_generic":   nil,
		"unknown_command": nil,
		"busy_try_again":  nil,
		"handover_unsure": nil,
		"working":         nil,

		"reminder":                {"Plan": "1m", "Left": 24 * time.Hour, "Expires": expires},
		"subscription_expired":    nil,
		"autorenew_done":          {"Plan": "1m", "Expires": expires, "Price": money},
		"autorenew_short_balance": {"Price": money, "Balance": money},
		"autorenew_failed":        {"Plan": "1m", "Expires": expires},
		"autorenew_enabled":       nil,
		"autorenew_disabled":      nil,
		"autorenew_needs_plan":    nil,

		"reissue_done":         nil,
		"reissue_failed":       nil,
		"reissue_too_soon":     {"Wait": 90 * time.Minute},
		"reissue_needs_active": nil,

		"banned_notice":   nil,
		"unbanned_notice": nil,
		"refund_done":     {"Amount": money},

		"admin_stats": {"Users": 120, "Active": 80, "Trials": 12, "RevenueToday": money, "Revenue30": money, "XrayUsers": 92, "DBActive": 92},
		"admin_user": {"ID": int64(42), "Name": hostile, "Username": "@ann", "Lang": "ru", "Joined": expires, "Status": HTML("✅ Active"),
			"Expires": expires, "Balance": money, "Purchases": 3, "Referrals": 1},
		"admin_granted":                {"User": hostile, "Duration": 7 * 24 * time.Hour},
		"admin_banned":                 {"User": hostile},
		"admin_unbanned":               {"User": hostile},
		"admin_refunded":               {"Purchase": "#17"},
		"admin_promo_created":          {"Code": "SPRING<25>"},
		"admin_broadcast_started":      {"Count": 21},
		"admin_broadcast_progress":     {"Sent": 10, "Total": 21, "Skipped": 2, "Failed": 1},
		"admin_broadcast_done":         {"Sent": 18, "Total": 21, "Skipped": 2, "Failed": 1},
		"admin_usage":                  {"Usage": "/grant <user> <days>"},
		"admin_not_found":              nil,
		"admin_health_down":            {"Component": "PostgreSQL", "Error": hostile},
		"admin_health_up":              {"Component": "PostgreSQL"},
		"admin_evacuation_started":     {"Node": "eu-1", "Mode": "failover", "Users": 1000},
		"admin_evacuation_ended":       {"Node": "eu-1", "Mode": "failover", "Outcome": "no users left on it", "Users": 1000, "Moved": 998, "Left": 2, "Minutes": "0.9"},
		"evacuation_mode_failover":     nil,
		"evacuation_mode_drain":        nil,
		"evacuation_outcome_empty":     nil,
		"evacuation_outcome_recovered": nil,
		"evacuation_outcome_stalled":   nil,
		"evacuation_outcome_cancelled": nil,
		"key_moved":                    {"Server": "eu-2"},
		"admin_overdue":                {"Count": 12, "Users": "1, 2, <3>"},
		"admin_payment_alert":          {"Event": "extra_refunded<>", "User": int64(42), "Purchase": "0190<>", "Charge": hostile, "Amount": "150 XTR", "Detail": hostile},
		"stars_extra_refunded":         {"Amount": "150 XTR"},

		"sandbox_expire_usage": {"Min": time.Minute, "Max": 24 * time.Hour},
		"sandbox_expire_set":   {"Expires": expires, "Left": 2 * time.Minute},
		"sandbox_expire_none":  nil,

		"promo_applied": {"Duration": 7 * 24 * time.Hour},
		"promo_invalid": nil,
		"promo_used":    nil,

		"admin_broadcast_too_long": {"Length": 5000, "Max": 4096},
		"admin_user_purchases":     nil,
		"admin_user_workflows":     nil,
		"admin_user_none":          nil,
		"admin_busy":               {"Workflow": "moderation/42<>"},
		"admin_in_progress":        {"Workflow": "refund/<1>"},
		"admin_failed":             {"Workflow": "grant/1", "Error": hostile},
		"admin_refund_already":     {"Purchase": "0190<>"},
		"admin_refund_not_paid":    {"Purchase": "0190<>"},
		"admin_promo_exists":       {"Code": "SPRING<25>"},
		"promo_exhausted":          nil,
		"promo_discount":           {"Percent": 20},
		"promo_discount_applied":   {"Code": "SALE<>", "Percent": 20},
		"promo_usage":              nil,
		"trial_no_capacity":        nil,
		"region_choose":            nil,
		"btn_region_any":           nil,
		"admin_nodes":              {"List": hostile},
		"admin_node_done":          {"Text": hostile},
		"admin_node_invalid":       {"Error": hostile, "Usage": hostile},
	}
}

// requiredIDs are the ids the rest of vpnflow was promised.
var requiredIDs = strings.Fields(`menu_text btn_buy btn_renew btn_trial btn_my_sub btn_balance btn_invite
	btn_help btn_language btn_back btn_reissue btn_topup btn_autorenew_on btn_autorenew_off btn_pay_cryptopay
	btn_pay_stars btn_pay_balance btn_pay_link btn_temporal_ui plans_title plan_button choose_payment
	invoice_cryptopay invoice_stars_title invoice_stars_description topup_title topup_choose invoice_topup
	purchase_started purchase_expired payment_received activation_in_progress key_message key_caption
	subscription_extended sub_status sub_links sub_none profile_title_expired profile_title_banned status_trial status_active status_expired status_banned
	status_expiring trial_started trial_used trial_active_sub balance_text topup_done insufficient_balance
	invite_text referral_bonus help_text language_choose language_set stale_button rate_limited error_generic
	unknown_command busy_try_again reminder subscription_expired autorenew_done autorenew_short_balance
	autorenew_enabled autorenew_disabled autorenew_needs_plan reissue_done reissue_failed reissue_too_soon reissue_needs_active
	banned_notice unbanned_notice refund_done admin_stats admin_user admin_granted admin_banned admin_unbanned
	admin_refunded admin_promo_created admin_broadcast_started admin_broadcast_progress admin_usage
	admin_not_found promo_applied promo_invalid promo_used`)

func newCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestCatalogHasRequiredIDs(t *testing.T) {
	c := newCatalog(t)
	ids := c.IDs()
	for _, id := range requiredIDs {
		if !slices.Contains(ids, id) {
			t.Errorf("message %q is missing", id)
		}
	}
}

func TestSampleDataCoversCatalog(t *testing.T) {
	c := newCatalog(t)
	samples := sampleData()
	for _, id := range c.IDs() {
		if _, ok := samples[id]; !ok {
			t.Errorf("message %q has no sample data in this test", id)
		}
	}
	for id := range samples {
		if _, ok := c.messages[id]; !ok {
			t.Errorf("sample data for %q, which the catalogue lacks", id)
		}
	}
}

// TestEveryMessageRenders renders every message in every language with its
// documented data and checks Telegram would accept it.
func TestEveryMessageRenders(t *testing.T) {
	c := newCatalog(t)
	samples := sampleData()
	// Texts that are rightly the same in both languages.
	sameInBoth := map[string]bool{"plan_button": true, "invoice_stars_title": true}
	for _, id := range c.IDs() {
		data := samples[id]
		info := c.messages[id]
		rendered := map[string]string{}
		for _, lang := range Languages() {
			s, err := c.Render(lang, id, data)
			if err != nil {
				t.Errorf("Render(%s, %s): %v", lang, id, err)
				continue
			}
			rendered[lang] = s
			if strings.TrimSpace(s) == "" || strings.Contains(s, "{{") {
				t.Errorf("%s/%s rendered as %q", lang, id, s)
			}
			if info.plain {
				if strings.Contains(s, "&amp;") || strings.Contains(s, "&lt;") {
					t.Errorf("%s/%s is plain text but was escaped: %q", lang, id, s)
				}
			} else if err := checkTelegramHTML(s); err != nil {
				t.Errorf("%s/%s is not valid Telegram HTML: %v\n%s", lang, id, err, s)
			}
			if strings.Contains(s, "<script>") {
				t.Errorf("%s/%s let user markup through: %q", lang, id, s)
			}
			checkLength(t, lang, id, s)
		}
		if rendered["en"] == rendered["ru"] && !sameInBoth[id] {
			t.Errorf("%s is the same in English and Russian: %q", id, rendered["en"])
		}
	}
}

// checkLength holds messages to the limits of where Telegram shows them.
func checkLength(t *testing.T, lang, id, s string) {
	t.Helper()
	limit := 4096 // a text message
	switch {
	case id == "invoice_stars_title":
		limit = 32
	case id == "invoice_stars_description":
		limit = 255
	case id == "key_caption", id == "key_message":
		limit = 1024 // photo captions
	case strings.HasPrefix(id, "btn_"), id == "plan_button":
		limit = 64 // no hard limit, but longer labels get cut off
	}
	if n := utf8.RuneCountInString(s); n > limit {
		t.Errorf("%s/%s is %d characters, over %d", lang, id, n, limit)
	}
}

func TestDataIsEscaped(t *testing.T) {
	c := newCatalog(t)
	s := c.T("en", "menu_text", map[string]any{"Name": hostile})
	want := `&lt;b&gt;Ann&lt;/b&gt; &amp; &quot;Bob&quot; &lt;script&gt;`
	if !strings.Contains(s, "<b>"+want+"</b>") {
		t.Errorf("menu_text = %q, want the name escaped inside <b>", s)
	}
	link := "vless://id@h:443?type=tcp&sni=x#a"
	s = c.T("en", "key_message", map[string]any{"Plan": "1m", "Expires": "x", "Email": "e", "Link": link, "URL": "u"})
	if !strings.Contains(s, "<code>vless://id@h:443?type=tcp&amp;sni=x#a</code>") {
		t.Errorf("key_message does not hold the escaped link in <code>: %q", s)
	}
}

func TestHTMLValuesAreNotEscaped(t *testing.T) {
	c := newCatalog(t)
	s := c.T("en", "sub_status", map[string]any{"Status": HTML("<i>x</i>"), "Expires": "", "Email": "", "Traffic": "", "AutoRenew": ""})
	if !strings.Contains(s, "Status: <i>x</i>") {
		t.Errorf("sub_status = %q, want the HTML status verbatim", s)
	}
}

func TestPlainMessagesAreNotEscaped(t *testing.T) {
	c := newCatalog(t)
	if s := c.T("en", "btn_pay_balance", map[string]any{"Balance": `<1 & 2>`}); s != "💰 From balance (<1 & 2>)" {
		t.Errorf("btn_pay_balance = %q", s)
	}
}

func TestInvalidUTF8IsReplaced(t *testing.T) {
	c := newCatalog(t)
	s := c.T("en", "menu_text", map[string]any{"Name": "A\xffB"})
	if !utf8.ValidString(s) || !strings.Contains(s, "A\uFFFDB") {
		t.Errorf("menu_text with invalid UTF-8 = %q", s)
	}
}

func TestTypedValuesAreFormatted(t *testing.T) {
	c := newCatalog(t)
	at := time.Date(2026, 12, 1, 14, 0, 0, 0, time.FixedZone("MSK", 3*3600))
	s := c.T("ru", "reminder", map[string]any{"Plan": "1m", "Left": 72 * time.Hour, "Expires": at})
	for _, want := range []string{"через <b>3 дня</b>", "01.12.2026 11:00 UTC"} {
		if !strings.Contains(s, want) {
			t.Errorf("reminder = %q, want %q in it", s, want)
		}
	}
	// fmt turns a panicking String method into a note instead of a crash.
	if s := c.T("en", "admin_refunded", map[string]any{"Purchase": &panicky{}}); !strings.Contains(s, "PANIC") {
		t.Errorf("admin_refunded with a panicking Stringer = %q, want fmt's panic note", s)
	}
	var nilPtr *panicky
	if s := c.T("en", "admin_refunded", map[string]any{"Purchase": nilPtr}); !strings.Contains(s, "&lt;nil&gt;") {
		t.Errorf("admin_refunded with a nil Stringer = %q", s)
	}
}

type panicky struct{}

func (p *panicky) String() string { panic("boom") }

func TestLanguageFallback(t *testing.T) {
	c := newCatalog(t)
	en := c.T("en", "help_text", nil)
	ru := c.T("ru", "help_text", nil)
	for lang, want := range map[string]string{"de": en, "pt-br": en, "": en, "EN-us": en, "ru-RU": ru, "ru": ru, "RU_ru": ru} {
		if got := c.T(lang, "help_text", nil); got != want {
			t.Errorf("T(%q) is not the %s text", lang, Normalize(lang))
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"en": "en", "ru": "ru", "ru-RU": "ru", " RU ": "ru", "ru_UA": "ru", "de": "en", "pt-br": "en", "": "en", "russian": "en", "uk": "en"} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Languages(); !slices.Equal(got, []string{"en", "ru"}) {
		t.Errorf("Languages() = %v", got)
	}
}

func TestUnknownIDAndMissingData(t *testing.T) {
	c := newCatalog(t)
	if got := c.T("en", "no_such_message", nil); got != "no_such_message" {
		t.Errorf("T(unknown) = %q, want the id", got)
	}
	if _, err := c.Render("en", "no_such_message", nil); err == nil {
		t.Error("Render(unknown) did not fail")
	}
	if _, err := c.Render("en", "topup_done", map[string]any{"Amount": "$1.00"}); err == nil || !strings.Contains(err.Error(), "Balance") {
		t.Errorf("Render without Balance = %v, want an error naming it", err)
	}
	s := c.T("en", "topup_done", map[string]any{"Amount": "$1.00"})
	if strings.Contains(s, "no value") || !strings.Contains(s, "$1.00") || checkTelegramHTML(s) != nil {
		t.Errorf("T without Balance = %q, want the text with an empty balance", s)
	}
	if _, err := c.Render("en", "invite_text", map[string]any{"Link": "l", "Bonus": "b"}); err == nil {
		t.Error("Render of a plural message without Count did not fail")
	}
}

func TestPluralForms(t *testing.T) {
	c := newCatalog(t)
	data := map[string]any{"Link": "l", "Bonus": "b", "Percent": 10}
	tests := []struct {
		lang  string
		count int
		want  string
	}{
		{"en", 0, "0 friends have"},
		{"en", 1, "1 friend has"},
		{"en", 2, "2 friends have"},
		{"ru", 0, "пришли 0 друзей"},
		{"ru", 1, "пришёл 1 друг."},
		{"ru", 2, "пришли 2 друга."},
		{"ru", 4, "пришли 4 друга."},
		{"ru", 5, "пришли 5 друзей."},
		{"ru", 11, "пришли 11 друзей."},
		{"ru", 12, "пришли 12 друзей."},
		{"ru", 21, "пришёл 21 друг."},
		{"ru", 22, "пришли 22 друга."},
		{"ru", 111, "пришли 111 друзей."},
	}
	for _, tt := range tests {
		got := c.TN(tt.lang, "invite_text", tt.count, data)
		if !strings.Contains(got, tt.want) {
			t.Errorf("TN(%s, %d) = %q, want %q in it", tt.lang, tt.count, got, tt.want)
		}
		// T with data["Count"] must agree with TN.
		withCount := maps.Clone(data)
		withCount["Count"] = tt.count
		if got2 := c.T(tt.lang, "invite_text", withCount); got2 != got {
			t.Errorf("T with Count %d = %q, TN = %q", tt.count, got2, got)
		}
	}
	if got, err := c.RenderN("ru", "admin_broadcast_started", 3, nil); err != nil || !strings.Contains(got, "3 получателя") {
		t.Errorf("RenderN(ru, admin_broadcast_started, 3) = %q, %v", got, err)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := newCatalog(t)
	samples := sampleData()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			lang := Languages()[i%2]
			for _, id := range c.IDs() {
				if s := c.T(lang, id, samples[id]); s == id {
					t.Errorf("T(%s, %s) failed", lang, id)
				}
			}
		})
	}
	wg.Wait()
}

// TestCheckMessage feeds the catalogue validation broken translations.
func TestCheckMessage(t *testing.T) {
	msg := func(id string, forms ...string) *goi18n.Message {
		m := &goi18n.Message{ID: id}
		for i := 0; i+1 < len(forms); i += 2 {
			switch forms[i] {
			case "one":
				m.One = forms[i+1]
			case "few":
				m.Few = forms[i+1]
			case "many":
				m.Many = forms[i+1]
			case "other":
				m.Other = forms[i+1]
			}
		}
		return m
	}
	catalogue := func(en, ru *goi18n.Message) map[string]map[string]*goi18n.Message {
		c := map[string]map[string]*goi18n.Message{"en": {}, "ru": {}}
		if en != nil {
			c["en"][en.ID] = en
		}
		if ru != nil {
			c["ru"][ru.ID] = ru
		}
		return c
	}
	tests := []struct {
		name    string
		en, ru  *goi18n.Message
		wantErr string
	}{
		{"ok", msg("x", "other", "Hi {{.Name}}"), msg("x", "other", "Привет {{.Name}}"), ""},
		{"ok plural", msg("x", "one", "{{.Count}} a", "other", "{{.Count}} b"),
			msg("x", "one", "{{.Count}} а", "few", "{{.Count}} б", "many", "{{.Count}} в", "other", "{{.Count}} г"), ""},
		{"missing in ru", msg("x", "other", "Hi"), nil, "missing in ru"},
		{"missing in en", nil, msg("x", "other", "Привет"), "missing in en"},
		{"empty", msg("x", "other", " "), msg("x", "other", "Привет"), "empty"},
		{"plural lacks few", msg("x", "one", "a", "other", "b"), msg("x", "one", "а", "many", "в", "other", "г"), `"few"`},
		{"plural in one language", msg("x", "one", "a", "other", "b"), msg("x", "other", "г"), "plural in some"},
		{"typo in key", msg("x", "other", "Hi {{.Name}}"), msg("x", "other", "Привет {{.Nmae}}"), "reads data"},
		{"bad template", msg("x", "other", "Hi {{.Name"), msg("x", "other", "Привет"), "in en"},
		{"range", msg("x", "other", "{{range .L}}a{{end}}"), msg("x", "other", "{{range .L}}б{{end}}"), "not supported"},
		{"markup in a button", msg("btn_x", "other", "<b>Buy</b>"), msg("btn_x", "other", "Купить"), "plain text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "x"
			if tt.en != nil {
				id = tt.en.ID
			} else if tt.ru != nil {
				id = tt.ru.ID
			}
			_, err := checkMessage(id, catalogue(tt.en, tt.ru))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("checkMessage: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("checkMessage = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestTemplateKeys(t *testing.T) {
	keys, err := templateKeys(`{{.B}} x {{if .A}}{{.C.D}}{{else}}{{.B}}{{end}} {{printf "%d" .E}}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A", "B", "C", "E"}; !slices.Equal(keys, want) {
		t.Errorf("templateKeys = %v, want %v", keys, want)
	}
}

func ExampleCatalog_T() {
	c, err := New()
	if err != nil {
		panic(err)
	}
	fmt.Println(c.T("en-GB", "topup_done", map[string]any{
		"Amount":  FormatMoney("en", 500, "USD"),
		"Balance": FormatMoney("en", 123456, "USD"),
	}))
	// Output: ✅ Your balance was topped up by <b>$5.00</b> and is now <b>$1,234.56</b>.
}
