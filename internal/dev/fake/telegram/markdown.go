package telegram

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// mdOpen is an entity whose closing marker has not been seen yet.
type mdOpen struct {
	typ    string // entity type
	name   string // the name Telegram's errors use
	at     int    // byte offset of the opening marker
	entity orderedEntity
}

// at reads s[i], or 0 past the end, as Telegram's parser does.
func at(s string, i int) byte {
	if i < 0 || i >= len(s) {
		return 0
	}
	return s[i]
}

func reservedError(c byte) error {
	return fmt.Errorf("Character '%c' is reserved and must be escaped with the preceding '\\'", c)
}

// parseMarkdownV2 parses parse_mode MarkdownV2 the way Telegram does,
// including its insistence that reserved characters be escaped.
func parseMarkdownV2(s string) (string, []MessageEntity, error) {
	var (
		out        textBuilder
		stack      []mdOpen
		ents       []orderedEntity
		order      int
		quoteStart = -1 // offset where the open blockquote began
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		inCode := len(stack) > 0 && (stack[len(stack)-1].typ == "code" || stack[len(stack)-1].typ == "pre")
		lineStart := i == 0 || s[i-1] == '\n'
		if lineStart && !inCode {
			if c == '>' {
				if quoteStart < 0 {
					quoteStart = out.pos()
				}
				continue
			}
			if quoteStart >= 0 {
				// The quote ended with the previous line; its newline stays outside.
				if end := out.pos() - 1; end > quoteStart {
					ents = append(ents, orderedEntity{MessageEntity{Type: "blockquote", Offset: quoteStart, Length: end - quoteStart}, -1})
				}
				quoteStart = -1
			}
		}
		if c == '\\' && at(s, i+1) > 0 && at(s, i+1) <= 126 {
			i++
			out.writeRune(rune(s[i]))
			continue
		}
		reserved := "_*[]()~`>#+-=|{}.!"
		if inCode {
			reserved = "`"
		}
		if !strings.ContainsRune(reserved, rune(c)) {
			r, n := utf8.DecodeRuneInString(s[i:])
			out.writeRune(r)
			i += n - 1
			continue
		}
		if len(stack) > 0 && mdClosesTop(s, i, stack[len(stack)-1].typ) {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			e := top.entity
			e.Length = out.pos() - e.Offset
			switch top.typ {
			case "underline", "spoiler":
				i++
			case "pre":
				i += 2
			case "text_link", "custom_emoji":
				link, next, err := mdLinkTarget(s, i, out, e.Offset)
				if err != nil {
					return "", nil, err
				}
				i = next
				if top.typ == "custom_emoji" {
					id, ok := strings.CutPrefix(link, "tg://emoji?id=")
					if !ok || id == "" {
						return "", nil, fmt.Errorf("Custom emoji entity must contain a tg://emoji URL")
					}
					e.CustomEmojiID = id
				} else if u, err := url.Parse(link); err == nil && u.Scheme != "" {
					e.URL = link
				} else {
					e.Length = 0 // Telegram drops links it cannot use
				}
			}
			if e.Length > 0 {
				ents = append(ents, e)
			}
			continue
		}
		open := mdOpen{at: i}
		switch c {
		case '_':
			if at(s, i+1) == '_' {
				open.typ, open.name = "underline", "Underline"
				i++
			} else {
				open.typ, open.name = "italic", "Italic"
			}
		case '*':
			open.typ, open.name = "bold", "Bold"
		case '~':
			open.typ, open.name = "strikethrough", "Strikethrough"
		case '|':
			if at(s, i+1) != '|' {
				return "", nil, reservedError(c)
			}
			open.typ, open.name = "spoiler", "Spoiler"
			i++
		case '[':
			open.typ, open.name = "text_link", "TextUrl"
		case '!':
			if at(s, i+1) != '[' {
				return "", nil, reservedError(c)
			}
			open.typ, open.name = "custom_emoji", "CustomEmoji"
			i++
		case '`':
			if at(s, i+1) != '`' || at(s, i+2) != '`' {
				open.typ, open.name = "code", "Code"
				break
			}
			open.typ, open.name = "pre", "Pre"
			i += 3
			langEnd := i
			for langEnd < len(s) && !isHTMLSpace(s[langEnd]) && s[langEnd] != '`' {
				langEnd++
			}
			if langEnd != i && langEnd < len(s) && s[langEnd] != '`' {
				open.entity.Language = s[i:langEnd]
				i = langEnd
			}
			// One line break right after the opening marker is not content.
			if c := at(s, i); c == '\n' || c == '\r' {
				if n := at(s, i+1); (n == '\n' || n == '\r') && n != c {
					i += 2
				} else {
					i++
				}
			}
			i--
		default:
			return "", nil, reservedError(c)
		}
		open.entity.Type = open.typ
		open.entity.Offset = out.pos()
		open.entity.order = order
		order++
		stack = append(stack, open)
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return "", nil, fmt.Errorf("Can't find end of %s entity at byte offset %d", top.name, top.at)
	}
	if quoteStart >= 0 && out.pos() > quoteStart {
		ents = append(ents, orderedEntity{MessageEntity{Type: "blockquote", Offset: quoteStart, Length: out.pos() - quoteStart}, -1})
	}
	return out.String(), sortedEntities(ents), nil
}

func mdClosesTop(s string, i int, typ string) bool {
	c := s[i]
	switch typ {
	case "bold":
		return c == '*'
	case "italic":
		return c == '_' && at(s, i+1) != '_'
	case "code":
		return c == '`'
	case "pre":
		return c == '`' && at(s, i+1) == '`' && at(s, i+2) == '`'
	case "text_link", "custom_emoji":
		return c == ']'
	case "underline":
		return c == '_' && at(s, i+1) == '_'
	case "strikethrough":
		return c == '~'
	case "spoiler":
		return c == '|' && at(s, i+1) == '|'
	}
	return false
}

// mdLinkTarget reads the "(url)" after a link's closing ']' at i,
// returning the URL and the index of its ')'. Without a "(url)" the link
// text itself is the URL.
func mdLinkTarget(s string, i int, out textBuilder, textStart int) (string, int, error) {
	if at(s, i+1) != '(' {
		text := textBuilder{units: out.units[textStart:]}
		return text.String(), i, nil
	}
	i += 2
	begin := i
	var link strings.Builder
	for i < len(s) && s[i] != ')' {
		if s[i] == '\\' && at(s, i+1) > 0 && at(s, i+1) <= 126 {
			link.WriteByte(s[i+1])
			i += 2
			continue
		}
		link.WriteByte(s[i])
		i++
	}
	if i >= len(s) {
		return "", 0, fmt.Errorf("Can't find end of a URL at byte offset %d", begin)
	}
	return link.String(), i, nil
}

// parseMarkdown parses the legacy parse_mode Markdown: *bold*, _italic_,
// `code`, ```pre``` and [text](url), with no nesting.
func parseMarkdown(s string) (string, []MessageEntity, error) {
	var (
		out  textBuilder
		ents []orderedEntity
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && strings.ContainsRune("_*`[", rune(at(s, i+1))) {
			i++
			out.writeRune(rune(s[i]))
			continue
		}
		if !strings.ContainsRune("_*`[", rune(c)) {
			r, n := utf8.DecodeRuneInString(s[i:])
			out.writeRune(r)
			i += n - 1
			continue
		}
		begin := i
		e := MessageEntity{Offset: out.pos()}
		switch {
		case c == '[':
			end := strings.IndexByte(s[i+1:], ']')
			if end < 0 {
				return "", nil, fmt.Errorf("Can't find end of the entity starting at byte offset %d", begin)
			}
			text := s[i+1 : i+1+end]
			i += end + 1
			if at(s, i+1) == '(' {
				closeAt := strings.IndexByte(s[i+2:], ')')
				if closeAt < 0 {
					return "", nil, fmt.Errorf("Can't find end of a URL at byte offset %d", i+2)
				}
				e.Type, e.URL = "text_link", s[i+2:i+2+closeAt]
				i += closeAt + 2
			}
			out.writeString(text)
		case c == '`' && at(s, i+1) == '`' && at(s, i+2) == '`':
			end := strings.Index(s[i+3:], "```")
			if end < 0 {
				return "", nil, fmt.Errorf("Can't find end of the entity starting at byte offset %d", begin)
			}
			body := s[i+3 : i+3+end]
			if lang, rest, ok := strings.Cut(body, "\n"); ok && lang != "" && !strings.ContainsAny(lang, " \t`") {
				e.Language, body = lang, rest
			}
			e.Type = "pre"
			out.writeString(body)
			i += end + 5
		default:
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return "", nil, fmt.Errorf("Can't find end of the entity starting at byte offset %d", begin)
			}
			e.Type = map[byte]string{'*': "bold", '_': "italic", '`': "code"}[c]
			out.writeString(s[i+1 : i+1+end])
			i += end + 1
		}
		e.Length = out.pos() - e.Offset
		if e.Type != "" && e.Length > 0 {
			ents = append(ents, orderedEntity{e, len(ents)})
		}
	}
	return out.String(), sortedEntities(ents), nil
}
