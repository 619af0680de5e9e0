package telegram

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// htmlTags maps the tags parse_mode HTML supports to entity types.
var htmlTags = map[string]string{
	"b": "bold", "strong": "bold",
	"i": "italic", "em": "italic",
	"u": "underline", "ins": "underline",
	"s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
	"span": "spoiler", "tg-spoiler": "spoiler",
	"a":          "text_link",
	"code":       "code",
	"pre":        "pre",
	"blockquote": "blockquote",
	"tg-emoji":   "custom_emoji",
}

type htmlOpen struct {
	tag    string
	at     int // byte offset of '<' in the input
	entity orderedEntity
}

// parseHTML parses parse_mode HTML the way Telegram does, with its error
// messages, returning the plain text and its entities.
func parseHTML(s string) (string, []MessageEntity, error) {
	var (
		out   textBuilder
		stack []htmlOpen
		ents  []orderedEntity
		order int
	)
	for i := 0; i < len(s); {
		switch s[i] {
		case '&':
			if r, n := decodeHTMLEntity(s[i:]); n > 0 {
				out.writeRune(r)
				i += n
				continue
			}
			out.writeRune('&')
			i++
		case '<':
			if i+1 < len(s) && s[i+1] == '/' {
				next, tag, err := parseEndTag(s, i)
				if err != nil {
					return "", nil, err
				}
				if len(stack) == 0 {
					return "", nil, fmt.Errorf("Unexpected end tag at byte offset %d", i)
				}
				top := stack[len(stack)-1]
				if tag != top.tag {
					return "", nil, fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", i, top.tag, tag)
				}
				stack = stack[:len(stack)-1]
				e := top.entity
				e.Length = out.pos() - e.Offset
				ents = closeHTMLEntity(ents, e)
				i = next
				continue
			}
			next, open, err := parseStartTag(s, i)
			if err != nil {
				return "", nil, err
			}
			open.entity.Offset = out.pos()
			open.entity.order = order
			order++
			stack = append(stack, open)
			i = next
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			out.writeRune(r)
			i += n
		}
	}
	if len(stack) > 0 {
		return "", nil, fmt.Errorf("Can't find end tag corresponding to start tag \"%s\"", stack[len(stack)-1].tag)
	}
	for i := range ents {
		if ents[i].Type == "code" {
			ents[i].Language = "" // only pre carries a language
		}
	}
	return out.String(), sortedEntities(ents), nil
}

// closeHTMLEntity adds a finished entity; <pre><code class="language-x">
// becomes one pre entity with that language, as Telegram reads it.
func closeHTMLEntity(ents []orderedEntity, e orderedEntity) []orderedEntity {
	if e.Length == 0 {
		return ents
	}
	if e.Type == "text_link" && e.URL == "" {
		return ents
	}
	if e.Type == "pre" && len(ents) > 0 {
		last := ents[len(ents)-1]
		if last.Type == "code" && last.Offset == e.Offset && last.Length == e.Length {
			e.Language = last.Language
			ents = ents[:len(ents)-1]
		}
	}
	return append(ents, e)
}

func isTagNameByte(c byte) bool {
	return c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isHTMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func parseEndTag(s string, at int) (int, string, error) {
	i := at + 2
	start := i
	for i < len(s) && isTagNameByte(s[i]) {
		i++
	}
	tag := strings.ToLower(s[start:i])
	for i < len(s) && isHTMLSpace(s[i]) {
		i++
	}
	if i >= len(s) || s[i] != '>' {
		return 0, "", fmt.Errorf("Unclosed end tag at byte offset %d", at)
	}
	return i + 1, tag, nil
}

func parseStartTag(s string, at int) (int, htmlOpen, error) {
	i := at + 1
	start := i
	for i < len(s) && isTagNameByte(s[i]) {
		i++
	}
	tag := strings.ToLower(s[start:i])
	if i >= len(s) {
		return 0, htmlOpen{}, fmt.Errorf("Unclosed start tag at byte offset %d", at)
	}
	typ, ok := htmlTags[tag]
	if !ok {
		return 0, htmlOpen{}, fmt.Errorf("Unsupported start tag \"%s\" at byte offset %d", tag, at)
	}
	attrs := map[string]string{}
	for {
		for i < len(s) && isHTMLSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return 0, htmlOpen{}, fmt.Errorf("Unclosed start tag at byte offset %d", at)
		}
		if s[i] == '>' {
			i++
			break
		}
		nameStart := i
		for i < len(s) && !isHTMLSpace(s[i]) && s[i] != '=' && s[i] != '>' {
			i++
		}
		name := strings.ToLower(s[nameStart:i])
		if name == "" {
			return 0, htmlOpen{}, fmt.Errorf("Empty attribute name in the tag \"%s\" at byte offset %d", tag, at)
		}
		for i < len(s) && isHTMLSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return 0, htmlOpen{}, fmt.Errorf("Unclosed start tag at byte offset %d", at)
		}
		if s[i] != '=' {
			attrs[name] = "" // a bare attribute such as "expandable"
			continue
		}
		i++
		for i < len(s) && isHTMLSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return 0, htmlOpen{}, fmt.Errorf("Unclosed start tag at byte offset %d", at)
		}
		var raw string
		if q := s[i]; q == '"' || q == '\'' {
			end := strings.IndexByte(s[i+1:], q)
			if end < 0 {
				return 0, htmlOpen{}, fmt.Errorf("Unclosed start tag at byte offset %d", at)
			}
			raw = s[i+1 : i+1+end]
			i += end + 2
		} else {
			valueStart := i
			for i < len(s) && !isHTMLSpace(s[i]) && s[i] != '>' {
				i++
			}
			raw = s[valueStart:i]
		}
		attrs[name] = decodeHTMLEntities(raw)
	}
	e := orderedEntity{MessageEntity: MessageEntity{Type: typ}}
	switch tag {
	case "a":
		e.URL = attrs["href"]
	case "span":
		if attrs["class"] != "tg-spoiler" {
			return 0, htmlOpen{}, fmt.Errorf("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", at)
		}
	case "code":
		if lang, ok := strings.CutPrefix(attrs["class"], "language-"); ok {
			e.Language = lang
		}
	case "blockquote":
		if _, ok := attrs["expandable"]; ok {
			e.Type = "expandable_blockquote"
		}
	case "tg-emoji":
		id := attrs["emoji-id"]
		if id == "" {
			return 0, htmlOpen{}, fmt.Errorf("Tag \"tg-emoji\" must have attribute \"emoji-id\" at byte offset %d", at)
		}
		e.CustomEmojiID = id
	}
	return i, htmlOpen{tag: tag, at: at, entity: e}, nil
}

// decodeHTMLEntity decodes the entity at the start of s ("&lt;", "&#33;",
// "&#x21;"), returning the rune and bytes used, or 0 bytes when it is not
// one Telegram knows; such an ampersand stays literal.
func decodeHTMLEntity(s string) (rune, int) {
	end := strings.IndexByte(s, ';')
	if end < 2 || end > 10 {
		return 0, 0
	}
	name := s[1:end]
	switch name {
	case "lt":
		return '<', end + 1
	case "gt":
		return '>', end + 1
	case "amp":
		return '&', end + 1
	case "quot":
		return '"', end + 1
	}
	if name[0] != '#' {
		return 0, 0
	}
	var (
		n   uint64
		err error
	)
	if len(name) > 1 && (name[1] == 'x' || name[1] == 'X') {
		n, err = strconv.ParseUint(name[2:], 16, 32)
	} else {
		n, err = strconv.ParseUint(name[1:], 10, 32)
	}
	if err != nil || n == 0 || n > utf8.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
		return 0, 0
	}
	return rune(n), end + 1
}

func decodeHTMLEntities(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '&' {
			if r, n := decodeHTMLEntity(s[i:]); n > 0 {
				b.WriteRune(r)
				i += n
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}
