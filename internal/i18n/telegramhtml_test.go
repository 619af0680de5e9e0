package i18n

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	telegramTag    = regexp.MustCompile(`^<(/?)(b|strong|i|em|u|ins|s|strike|del|code|pre|a|blockquote|tg-spoiler)(?:\s+href="[^"<>]*")?>`)
	telegramEntity = regexp.MustCompile(`^&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);`)
)

// checkTelegramHTML reports what would make Telegram reject s with
// parse_mode HTML: unknown or unbalanced tags, a bare '<' or '>', or an
// '&' that does not start an entity. It is stricter than Telegram about '&'
// and '>' so that escaping mistakes show.
func checkTelegramHTML(s string) error {
	var open []string
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			m := telegramTag.FindStringSubmatch(s[i:])
			if m == nil {
				return fmt.Errorf("bare or unsupported tag at byte %d: %.20q", i, s[i:])
			}
			if m[1] == "/" {
				if len(open) == 0 || open[len(open)-1] != m[2] {
					return fmt.Errorf("unmatched </%s> at byte %d (open: %v)", m[2], i, open)
				}
				open = open[:len(open)-1]
			} else {
				open = append(open, m[2])
			}
			i += len(m[0])
		case '>':
			return fmt.Errorf("bare '>' at byte %d", i)
		case '&':
			m := telegramEntity.FindString(s[i:])
			if m == "" {
				return fmt.Errorf("bare '&' at byte %d: %.20q", i, s[i:])
			}
			i += len(m)
		default:
			i++
		}
	}
	if len(open) > 0 {
		return fmt.Errorf("unclosed tags %v", open)
	}
	if strings.Contains(s, "<no value>") {
		return fmt.Errorf("missing template data")
	}
	return nil
}
