package telegram

import (
	"encoding/json"
	"sort"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Telegram's limits on what a message may hold, in UTF-16 code units.
const (
	maxTextLength    = 4096
	maxCaptionLength = 1024
)

// formatText turns text as a bot sends it into what Telegram stores: markup
// parsed into entities (or the explicit entities used), surrounding
// whitespace trimmed, and commands and links recognised.
func formatText(text, parseMode, entitiesJSON string) (string, []MessageEntity, error) {
	if !utf8.ValidString(text) {
		return "", nil, badRequest("strings must be encoded in UTF-8")
	}
	var (
		plain string
		ents  []MessageEntity
		err   error
	)
	switch {
	case strings.TrimSpace(entitiesJSON) != "":
		if jsonErr := json.Unmarshal([]byte(entitiesJSON), &ents); jsonErr != nil {
			return "", nil, badRequest("can't parse entities JSON object")
		}
		plain, ents = text, clampEntities(ents, utf16Len(text))
	case parseMode == "":
		plain = text
	case strings.EqualFold(parseMode, "HTML"):
		plain, ents, err = parseHTML(text)
	case strings.EqualFold(parseMode, "MarkdownV2"):
		plain, ents, err = parseMarkdownV2(text)
	case strings.EqualFold(parseMode, "Markdown"):
		plain, ents, err = parseMarkdown(text)
	default:
		return "", nil, badRequest("unsupported parse_mode")
	}
	if err != nil {
		return "", nil, badRequest("can't parse entities: %v", err)
	}
	plain, ents = trimSpace(plain, ents)
	return plain, detectEntities(plain, ents), nil
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// clampEntities drops explicit entities that do not fit the text.
func clampEntities(ents []MessageEntity, n int) []MessageEntity {
	var out []MessageEntity
	for _, e := range ents {
		if e.Type == "" || e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > n {
			continue
		}
		out = append(out, e)
	}
	return out
}

// textBuilder collects parsed text in UTF-16, the unit entity offsets use.
type textBuilder struct{ units []uint16 }

func (b *textBuilder) writeRune(r rune) { b.units = utf16.AppendRune(b.units, r) }

func (b *textBuilder) writeString(s string) {
	for _, r := range s {
		b.writeRune(r)
	}
}

func (b *textBuilder) pos() int { return len(b.units) }

func (b *textBuilder) String() string { return string(utf16.Decode(b.units)) }

// orderedEntity remembers when an entity was opened, so nested entities
// with the same span come out outermost first.
type orderedEntity struct {
	MessageEntity
	order int
}

func sortedEntities(ents []orderedEntity) []MessageEntity {
	sort.SliceStable(ents, func(i, j int) bool {
		a, b := ents[i], ents[j]
		if a.Offset != b.Offset {
			return a.Offset < b.Offset
		}
		if a.Length != b.Length {
			return a.Length > b.Length
		}
		return a.order < b.order
	})
	out := make([]MessageEntity, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.MessageEntity)
	}
	return out
}

func isSpace16(u uint16) bool { return u == ' ' || u == '\t' || u == '\n' || u == '\r' }

// trimSpace strips leading and trailing whitespace as Telegram does,
// moving and clipping entities to match.
func trimSpace(text string, ents []MessageEntity) (string, []MessageEntity) {
	u := utf16.Encode([]rune(text))
	start, end := 0, len(u)
	for start < end && isSpace16(u[start]) {
		start++
	}
	for end > start && isSpace16(u[end-1]) {
		end--
	}
	if start == 0 && end == len(u) {
		return text, ents
	}
	var out []MessageEntity
	for _, e := range ents {
		from, to := max(e.Offset, start), min(e.Offset+e.Length, end)
		if to > from {
			e.Offset, e.Length = from-start, to-from
			out = append(out, e)
		}
	}
	return string(utf16.Decode(u[start:end])), out
}

// opaque entity types hide their text from command and link detection.
var opaque = map[string]bool{
	"code": true, "pre": true, "text_link": true, "url": true, "bot_command": true,
	"email": true, "mention": true, "text_mention": true, "custom_emoji": true,
}

// detectEntities adds the bot_command and url entities Telegram recognises
// in plain text, outside spans that already carry a link or code.
func detectEntities(text string, ents []MessageEntity) []MessageEntity {
	runes := []rune(text)
	offsets := make([]int, len(runes)+1)
	for i, r := range runes {
		offsets[i+1] = offsets[i] + utf16.RuneLen(r)
	}
	covered := func(from, to int) bool {
		for _, e := range ents {
			if opaque[e.Type] && from < e.Offset+e.Length && e.Offset < to {
				return true
			}
		}
		return false
	}
	all := make([]orderedEntity, 0, len(ents))
	for i, e := range ents {
		all = append(all, orderedEntity{e, i})
	}
	var found []MessageEntity
	for i := 0; i < len(runes); i++ {
		if i > 0 && (isWordRune(runes[i-1]) || strings.ContainsRune("/<>", runes[i-1])) {
			continue
		}
		end, typ := 0, ""
		switch {
		case runes[i] == '/':
			end, typ = commandEnd(runes, i), "bot_command"
		case runes[i] == 'h' || runes[i] == 'H':
			end, typ = urlEnd(runes, i), "url"
		}
		if end <= i {
			continue
		}
		from, to := offsets[i], offsets[end]
		if !covered(from, to) {
			found = append(found, MessageEntity{Type: typ, Offset: from, Length: to - from})
		}
		i = end - 1
	}
	if len(found) == 0 {
		return ents
	}
	for _, e := range found {
		all = append(all, orderedEntity{e, len(all)})
	}
	return sortedEntities(all)
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func isCommandRune(r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// commandEnd returns where a /command[@bot] starting at i ends, or i.
func commandEnd(runes []rune, i int) int {
	j := i + 1
	for j < len(runes) && j-i <= 64 && isCommandRune(runes[j]) {
		j++
	}
	if j == i+1 {
		return i
	}
	if j < len(runes) && runes[j] == '@' {
		k := j + 1
		for k < len(runes) && isCommandRune(runes[k]) {
			k++
		}
		if k-j-1 >= 3 {
			j = k
		}
	}
	if j < len(runes) && (isWordRune(runes[j]) || strings.ContainsRune("/<>", runes[j])) {
		return i // a path such as /usr/bin or a tag, not a command
	}
	return j
}

// urlEnd returns where an http(s) link starting at i ends, or i.
func urlEnd(runes []rune, i int) int {
	rest := strings.ToLower(string(runes[i:min(len(runes), i+8)]))
	scheme := 0
	switch {
	case strings.HasPrefix(rest, "https://"):
		scheme = 8
	case strings.HasPrefix(rest, "http://"):
		scheme = 7
	default:
		return i
	}
	j := i + scheme
	for j < len(runes) && !unicode.IsSpace(runes[j]) && !strings.ContainsRune(`<>"`, runes[j]) {
		j++
	}
	for j > i+scheme && strings.ContainsRune(`.,;:!?'")]`, runes[j-1]) {
		j--
	}
	if j == i+scheme {
		return i
	}
	return j
}
