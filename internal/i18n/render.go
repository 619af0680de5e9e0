package i18n

import (
	"fmt"
	"maps"
	"strings"
	"time"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
)

// HTML is markup the caller has already made safe for Telegram; it is
// inserted into HTML messages unescaped. Everything else is escaped.
type HTML string

// T renders message id in lang (normalized; unknown languages get English).
//
// Data values are made safe for HTML messages: strings and anything printed
// with fmt are escaped, HTML values are not, and time.Time and time.Duration
// values are formatted with FormatDate and FormatDuration. A plural message
// takes its count from data["Count"].
//
// T never fails: an unknown id comes back as the id itself and a missing data
// key renders as empty, so a slip shows up as odd text rather than an error
// the user cannot act on. Tests use Render, which reports both.
func (c *Catalog) T(lang, id string, data map[string]any) string {
	s, err := c.render(lang, id, data, false)
	if err != nil {
		return id
	}
	return s
}

// TN is T for plural messages: count picks the form and is also available
// to the template as {{.Count}}.
func (c *Catalog) TN(lang, id string, count int, data map[string]any) string {
	return c.T(lang, id, withCount(data, count))
}

// Render is T that reports an unknown id, a missing data key or a plural
// message without an integer Count as an error.
func (c *Catalog) Render(lang, id string, data map[string]any) (string, error) {
	return c.render(lang, id, data, true)
}

// RenderN is Render for plural messages, like TN.
func (c *Catalog) RenderN(lang, id string, count int, data map[string]any) (string, error) {
	return c.render(lang, id, withCount(data, count), true)
}

func withCount(data map[string]any, count int) map[string]any {
	out := make(map[string]any, len(data)+1)
	maps.Copy(out, data)
	out["Count"] = count
	return out
}

func (c *Catalog) render(lang, id string, data map[string]any, strict bool) (string, error) {
	lang = Normalize(lang)
	info, ok := c.messages[id]
	if !ok {
		return "", fmt.Errorf("unknown message %q", id)
	}
	// Only the keys the template reads are passed on, each made safe.
	safe := make(map[string]any, len(info.keys))
	for _, k := range info.keys {
		v, ok := data[k]
		if !ok {
			if strict {
				return "", fmt.Errorf("message %q: no data for %q", id, k)
			}
			v = ""
		}
		safe[k] = safeValue(lang, v, info.plain)
	}
	cfg := &goi18n.LocalizeConfig{MessageID: id, TemplateData: safe, TemplateParser: c.parser}
	if info.plural {
		n, ok := integer(data["Count"])
		switch {
		case ok:
			cfg.PluralCount = n
		case strict:
			return "", fmt.Errorf("message %q is plural but data[\"Count\"] is %T, not an integer", id, data["Count"])
		}
		// Without a count go-i18n renders the "other" form.
	}
	s, err := c.localizers[lang].Localize(cfg)
	if err != nil {
		return "", fmt.Errorf("render %q in %s: %w", id, lang, err)
	}
	return s, nil
}

func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	}
	return 0, false
}

// safeValue turns a data value into what the template prints.
func safeValue(lang string, v any, plain bool) any {
	var s string
	switch v := v.(type) {
	case HTML:
		return string(v)
	case string:
		s = v
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, bool:
		return v // nothing to escape; a template may also compare them
	case time.Time:
		s = FormatDate(lang, v)
	case time.Duration:
		s = FormatDuration(lang, v)
	default:
		// fmt recovers from a panicking String method, such as one on a
		// nil pointer, so this never panics.
		s = fmt.Sprint(v)
	}
	// Telegram rejects a whole message over one invalid UTF-8 byte.
	s = strings.ToValidUTF8(s, "\uFFFD")
	if plain {
		return s
	}
	return escapeHTML(s)
}

// escapeHTML escapes what Telegram's HTML parser treats specially. Quotes
// matter only inside attributes, but escaping them is harmless elsewhere.
func escapeHTML(s string) string {
	if !strings.ContainsAny(s, `&<>"`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
