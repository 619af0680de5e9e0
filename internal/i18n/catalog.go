// Package i18n holds every text the bot and its notifications send, in
// English and Russian.
//
// Messages live in locales/active.<lang>.json (go-i18n's format: a string,
// or an object of CLDR plural forms) and are Go templates over a map of data.
// Most are Telegram HTML (parse_mode HTML): the markup in the catalogue stays
// markup, and every data value is escaped on the way in, so a user's name
// containing "<" cannot break a message. Button labels (btn_*, plan_button)
// and payment-provider texts (invoice_stars_*, cryptopay_*, topup_title) are
// plain text, because Telegram and Crypto Pay show them verbatim (so are
// the subscription URL's titles, profile_title_*, which VPN apps show): they hold
// no markup and their data is not escaped.
//
// New checks the catalogue is complete, so that a missing translation fails
// at start-up and in tests instead of in a user's chat.
package i18n

import (
	"embed"
	"fmt"
	"slices"
	"strings"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"github.com/nicksnyder/go-i18n/v2/i18n/template"
	"golang.org/x/text/language"
)

//go:embed locales/active.*.json
var localeFiles embed.FS

// Catalog renders messages. It is safe for concurrent use.
type Catalog struct {
	localizers map[string]*goi18n.Localizer
	messages   map[string]messageInfo
	// parser is shared by every call: go-i18n caches each message's parsed
	// template with whichever parser renders it first.
	parser template.Parser
}

type messageInfo struct {
	keys   []string // data keys the message reads, sorted
	plural bool     // picks a form by data["Count"]
	plain  bool     // not HTML: data is not escaped
}

// New loads the embedded catalogue. It fails if a message is missing from a
// language, a plural message lacks a form its language needs, a template
// does not parse, translations of a message read different data keys, or a
// plain-text message contains markup.
func New() (*Catalog, error) {
	bundle := goi18n.NewBundle(language.English)
	byLang := map[string]map[string]*goi18n.Message{}
	for _, lang := range Languages() {
		path := "locales/active." + lang + ".json"
		buf, err := localeFiles.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		file, err := bundle.ParseMessageFileBytes(buf, path)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		msgs := map[string]*goi18n.Message{}
		for _, m := range file.Messages {
			msgs[m.ID] = m
		}
		byLang[lang] = msgs
	}

	c := &Catalog{
		localizers: map[string]*goi18n.Localizer{},
		messages:   map[string]messageInfo{},
		parser:     &template.TextParser{Option: "missingkey=error"},
	}
	for _, lang := range Languages() {
		c.localizers[lang] = goi18n.NewLocalizer(bundle, lang)
	}

	var problems []string
	for _, id := range allIDs(byLang) {
		info, err := checkMessage(id, byLang)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		c.messages[id] = info
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("message catalogue: %s", strings.Join(problems, "; "))
	}
	return c, nil
}

// IDs returns every message id, sorted.
func (c *Catalog) IDs() []string {
	ids := make([]string, 0, len(c.messages))
	for id := range c.messages {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func allIDs(byLang map[string]map[string]*goi18n.Message) []string {
	seen := map[string]bool{}
	for _, msgs := range byLang {
		for id := range msgs {
			seen[id] = true
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// checkMessage validates one message across all languages and works out
// what rendering it needs.
func checkMessage(id string, byLang map[string]map[string]*goi18n.Message) (messageInfo, error) {
	info := messageInfo{plain: isPlain(id)}
	var firstKeys []string
	for i, lang := range Languages() {
		m, ok := byLang[lang][id]
		if !ok {
			return info, fmt.Errorf("%q is missing in %s", id, lang)
		}
		forms := pluralForms(m)
		plural := len(forms) > 1 || forms["other"] == ""
		if i == 0 {
			info.plural = plural
		} else if plural != info.plural {
			return info, fmt.Errorf("%q is plural in some languages only", id)
		}
		if plural {
			for _, f := range requiredForms(lang) {
				if forms[f] == "" {
					return info, fmt.Errorf("%q in %s lacks plural form %q", id, lang, f)
				}
			}
		} else if strings.TrimSpace(forms["other"]) == "" {
			return info, fmt.Errorf("%q in %s is empty", id, lang)
		}
		keys, err := messageKeys(forms)
		if err != nil {
			return info, fmt.Errorf("%q in %s: %w", id, lang, err)
		}
		if info.plain {
			for _, src := range forms {
				if strings.ContainsAny(src, "<>&") {
					return info, fmt.Errorf("%q in %s is plain text but contains markup", id, lang)
				}
			}
		}
		if i == 0 {
			firstKeys = keys
		} else if !slices.Equal(keys, firstKeys) {
			return info, fmt.Errorf("%q reads data %v in %s but %v in %s", id, keys, lang, firstKeys, Languages()[0])
		}
	}
	info.keys = firstKeys
	return info, nil
}

// pluralForms returns a message's non-empty forms by CLDR name.
func pluralForms(m *goi18n.Message) map[string]string {
	forms := map[string]string{}
	for name, src := range map[string]string{
		"zero": m.Zero, "one": m.One, "two": m.Two, "few": m.Few, "many": m.Many, "other": m.Other,
	} {
		if src != "" {
			forms[name] = src
		}
	}
	return forms
}

// requiredForms lists the CLDR cardinal forms a plural message needs in
// lang. Russian "other" covers fractions, which counts never are, but go-i18n
// falls back to it, so it must exist too.
func requiredForms(lang string) []string {
	switch lang {
	case "ru":
		return []string{"one", "few", "many", "other"}
	default:
		return []string{"one", "other"}
	}
}

func messageKeys(forms map[string]string) ([]string, error) {
	var all []string
	for name, src := range forms {
		keys, err := templateKeys(src)
		if err != nil {
			return nil, fmt.Errorf("form %s: %w", name, err)
		}
		all = append(all, keys...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// isPlain reports whether a message is shown by Telegram or Crypto Pay
// verbatim rather than as HTML.
func isPlain(id string) bool {
	switch {
	case strings.HasPrefix(id, "btn_"),
		strings.HasPrefix(id, "invoice_stars_"),
		strings.HasPrefix(id, "cryptopay_"),
		strings.HasPrefix(id, "profile_title_"), // an HTTP header VPN apps show
		id == "plan_button", id == "topup_title":
		return true
	}
	return false
}
