package telegram

import (
	"html"
	"html/template"
	"net/url"
	"sort"
	"strings"
	"unicode/utf16"
)

// renderEntities turns message text and its entities into HTML the way a
// Telegram client draws them. All text is escaped and only the formatting
// entities stand for produce markup, so nothing a bot sends can inject
// markup or script into the sandbox page.
func renderEntities(text string, ents []MessageEntity) template.HTML {
	units := utf16.Encode([]rune(text))
	type span struct {
		e   MessageEntity
		end int
	}
	var sorted []span
	for _, e := range ents {
		if e.Length <= 0 || e.Offset < 0 || e.Offset >= len(units) {
			continue
		}
		sorted = append(sorted, span{e, min(e.Offset+e.Length, len(units))})
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].e.Offset != sorted[j].e.Offset {
			return sorted[i].e.Offset < sorted[j].e.Offset
		}
		return sorted[i].end > sorted[j].end
	})
	points := []int{len(units)}
	for _, s := range sorted {
		points = append(points, s.e.Offset, s.end)
	}
	sort.Ints(points)

	var (
		b     strings.Builder
		stack []span
		pos   int
		next  int
	)
	for _, p := range points {
		if p < pos {
			continue
		}
		b.WriteString(html.EscapeString(string(utf16.Decode(units[pos:p]))))
		pos = p
		// Close everything down to the deepest entity ending here, then
		// reopen the overlapping ones that go on.
		lowest := -1
		for i, s := range stack {
			if s.end == p {
				lowest = i
				break
			}
		}
		if lowest >= 0 {
			popped := stack[lowest:]
			stack = stack[:lowest:lowest]
			for i := len(popped) - 1; i >= 0; i-- {
				b.WriteString(closeTag(popped[i].e))
			}
			for _, s := range popped {
				if s.end > p {
					b.WriteString(openTag(s.e, units))
					stack = append(stack, s)
				}
			}
		}
		for next < len(sorted) && sorted[next].e.Offset == p {
			b.WriteString(openTag(sorted[next].e, units))
			stack = append(stack, sorted[next])
			next++
		}
	}
	for i := len(stack) - 1; i >= 0; i-- {
		b.WriteString(closeTag(stack[i].e))
	}
	return template.HTML(b.String())
}

func openTag(e MessageEntity, units []uint16) string {
	switch e.Type {
	case "bold":
		return "<b>"
	case "italic":
		return "<i>"
	case "underline":
		return "<u>"
	case "strikethrough":
		return "<s>"
	case "spoiler":
		return `<span class="tg-spoiler" data-testid="spoiler">`
	case "code":
		return "<code>"
	case "pre":
		if e.Language != "" {
			return `<pre data-language="` + html.EscapeString(e.Language) + `"><code>`
		}
		return "<pre><code>"
	case "blockquote":
		return "<blockquote>"
	case "expandable_blockquote":
		return `<blockquote class="expandable">`
	case "text_link":
		return linkTag(e.URL)
	case "url":
		end := min(e.Offset+e.Length, len(units))
		return linkTag(string(utf16.Decode(units[e.Offset:end])))
	case "bot_command":
		end := min(e.Offset+e.Length, len(units))
		cmd := string(utf16.Decode(units[e.Offset:end]))
		return `<span class="cmd" data-testid="command-link" data-command="` + html.EscapeString(cmd) + `">`
	}
	return `<span class="entity-` + html.EscapeString(e.Type) + `">`
}

func closeTag(e MessageEntity) string {
	switch e.Type {
	case "bold":
		return "</b>"
	case "italic":
		return "</i>"
	case "underline":
		return "</u>"
	case "strikethrough":
		return "</s>"
	case "code":
		return "</code>"
	case "pre":
		return "</code></pre>"
	case "blockquote", "expandable_blockquote":
		return "</blockquote>"
	case "text_link", "url":
		return "</a>"
	}
	return "</span>"
}

// linkTag opens a link that leaves the sandbox in a new tab; links a
// browser should not follow (javascript:, tg:, ...) become inert.
func linkTag(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.Scheme == "" {
		u, err = url.Parse("http://" + raw)
	}
	if err != nil {
		return `<a class="inert" title="` + html.EscapeString(raw) + `">`
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "mailto":
		return `<a href="` + html.EscapeString(u.String()) + `" target="_blank" rel="noopener noreferrer">`
	}
	return `<a class="inert" title="` + html.EscapeString(raw) + `">`
}
