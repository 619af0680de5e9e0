package telegram

import (
	"slices"
	"strings"
	"testing"
)

type formatCase struct {
	name, in string
	text     string
	ents     []MessageEntity
	err      string // substring of the error; empty when it must parse
}

func runFormatCases(t *testing.T, mode string, cases []formatCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text, ents, err := formatText(c.in, mode, "")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if text != c.text {
				t.Errorf("text = %q, want %q", text, c.text)
			}
			if !slices.Equal(ents, c.ents) {
				t.Errorf("entities = %+v\nwant       %+v", ents, c.ents)
			}
		})
	}
}

func TestParseHTML(t *testing.T) {
	runFormatCases(t, "HTML", []formatCase{
		{name: "nested", in: "<b>bold <i>both</i></b> plain", text: "bold both plain",
			ents: []MessageEntity{{Type: "bold", Offset: 0, Length: 9}, {Type: "italic", Offset: 5, Length: 4}}},
		{name: "aliases", in: "<strong>a</strong><em>b</em><ins>c</ins><del>d</del><tg-spoiler>e</tg-spoiler>", text: "abcde",
			ents: []MessageEntity{{Type: "bold", Length: 1}, {Type: "italic", Offset: 1, Length: 1}, {Type: "underline", Offset: 2, Length: 1}, {Type: "strikethrough", Offset: 3, Length: 1}, {Type: "spoiler", Offset: 4, Length: 1}}},
		{name: "entities decoded", in: "a &lt;b&gt; &amp; &quot;c&quot; &#128512; &#x41; &nbsp;", text: "a <b> & \"c\" 😀 A &nbsp;",
			ents: nil},
		{name: "utf16 offsets", in: "😀 <b>x</b>", text: "😀 x", ents: []MessageEntity{{Type: "bold", Offset: 3, Length: 1}}},
		{name: "link", in: `<a href="https://t.me/x?a=1&amp;b=2">go</a>`, text: "go",
			ents: []MessageEntity{{Type: "text_link", Length: 2, URL: "https://t.me/x?a=1&b=2"}}},
		{name: "pre with language", in: "<pre><code class=\"language-go\">x := 1</code></pre>", text: "x := 1",
			ents: []MessageEntity{{Type: "pre", Length: 6, Language: "go"}}},
		{name: "code drops language", in: `<code class="language-go">x</code>`, text: "x", ents: []MessageEntity{{Type: "code", Length: 1}}},
		{name: "blockquotes", in: "<blockquote>q</blockquote><blockquote expandable>e</blockquote>", text: "qe",
			ents: []MessageEntity{{Type: "blockquote", Length: 1}, {Type: "expandable_blockquote", Offset: 1, Length: 1}}},
		{name: "spoiler span", in: `<span class="tg-spoiler">s</span>`, text: "s", ents: []MessageEntity{{Type: "spoiler", Length: 1}}},
		{name: "empty entity dropped", in: "<b></b>x", text: "x"},
		{name: "trimmed", in: "\n  <b> hi </b>\n", text: "hi", ents: []MessageEntity{{Type: "bold", Length: 2}}},
		{name: "stray gt", in: "a > b", text: "a > b"},
		{name: "command detected", in: "<b>Send</b> /renew now", text: "Send /renew now",
			ents: []MessageEntity{{Type: "bold", Length: 4}, {Type: "bot_command", Offset: 5, Length: 6}}},
		{name: "unsupported tag", in: "x<br/>", err: `Unsupported start tag "br" at byte offset 1`},
		{name: "bare lt", in: "1 < 2", err: `Unsupported start tag "" at byte offset 2`},
		{name: "unclosed", in: "<b>x", err: `Can't find end tag corresponding to start tag "b"`},
		{name: "mismatched", in: "<b><i>x</b></i>", err: `Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`},
		{name: "unexpected end", in: "x</b>", err: "Unexpected end tag at byte offset 1"},
		{name: "span without class", in: "<span>x</span>", err: `Tag "span" must have class "tg-spoiler"`},
		{name: "unclosed start", in: "<b", err: "Unclosed start tag at byte offset 0"},
		{name: "empty", in: "<b></b>", text: ""},
	})
}

func TestParseMarkdownV2(t *testing.T) {
	runFormatCases(t, "MarkdownV2", []formatCase{
		{name: "styles", in: "*b* _i_ __u__ ~s~ ||p||", text: "b i u s p",
			ents: []MessageEntity{{Type: "bold", Length: 1}, {Type: "italic", Offset: 2, Length: 1}, {Type: "underline", Offset: 4, Length: 1}, {Type: "strikethrough", Offset: 6, Length: 1}, {Type: "spoiler", Offset: 8, Length: 1}}},
		{name: "nested", in: "*bold _it_*", text: "bold it",
			ents: []MessageEntity{{Type: "bold", Length: 7}, {Type: "italic", Offset: 5, Length: 2}}},
		{name: "escapes", in: `1\.5 \- \*x\* \\`, text: `1.5 - *x* \`},
		{name: "link", in: `[site](https://example.com/a\)b)`, text: "site",
			ents: []MessageEntity{{Type: "text_link", Length: 4, URL: "https://example.com/a)b"}}},
		{name: "code keeps reserved", in: "`a.b_c`", text: "a.b_c", ents: []MessageEntity{{Type: "code", Length: 5}}},
		{name: "pre language", in: "```go\nfmt.Println(1)\n```", text: "fmt.Println(1)", ents: []MessageEntity{{Type: "pre", Length: 14, Language: "go"}}},
		{name: "blockquote", in: ">line one\n>line two\nafter", text: "line one\nline two\nafter",
			ents: []MessageEntity{{Type: "blockquote", Length: 17}}},
		{name: "reserved dot", in: "Total: 5.", err: `Character '.' is reserved and must be escaped with the preceding '\'`},
		{name: "reserved dash", in: "a - b", err: `Character '-' is reserved`},
		{name: "unclosed bold", in: "x *bold", err: "Can't find end of Bold entity at byte offset 2"},
		{name: "unclosed url", in: "[a](http://x", err: "Can't find end of a URL at byte offset 4"},
	})
}

func TestParseLegacyMarkdown(t *testing.T) {
	runFormatCases(t, "Markdown", []formatCase{
		{name: "styles", in: "*b* _i_ `c` [l](https://x.org)", text: "b i c l",
			ents: []MessageEntity{{Type: "bold", Length: 1}, {Type: "italic", Offset: 2, Length: 1}, {Type: "code", Offset: 4, Length: 1}, {Type: "text_link", Offset: 6, Length: 1, URL: "https://x.org"}}},
		{name: "dots are fine", in: "1.5 - 2", text: "1.5 - 2"},
		{name: "escaped", in: `a\_b`, text: "a_b"},
		{name: "unclosed", in: "a *b", err: "Can't find end of the entity starting at byte offset 2"},
	})
}

func TestPlainTextDetection(t *testing.T) {
	runFormatCases(t, "", []formatCase{
		{name: "command with bot", in: "/start@vpnflow_bot x", text: "/start@vpnflow_bot x",
			ents: []MessageEntity{{Type: "bot_command", Length: 18}}},
		{name: "path is not a command", in: "see /usr/bin", text: "see /usr/bin"},
		{name: "url trimmed of punctuation", in: "Open https://example.com/sub?x=1.", text: "Open https://example.com/sub?x=1.",
			ents: []MessageEntity{{Type: "url", Offset: 5, Length: 27}}},
		{name: "vless is not linked", in: "vless://uuid@host:443", text: "vless://uuid@host:443"},
	})
	if _, _, err := formatText("x", "", `[{"type":"bold","offset":0,"length":5}]`); err != nil {
		t.Errorf("out-of-range explicit entity should be dropped, got %v", err)
	}
	if _, ents, _ := formatText("abc", "", `[{"type":"bold","offset":1,"length":2}]`); len(ents) != 1 || ents[0].Offset != 1 {
		t.Errorf("explicit entities = %+v", ents)
	}
	if _, _, err := formatText("\xff", "", ""); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
}

func TestRenderEntities(t *testing.T) {
	cases := []struct {
		name, in, mode, want string
	}{
		{"escapes text", `&lt;script&gt;alert(1)&lt;/script&gt; <b>x</b>`, "HTML", "&lt;script&gt;alert(1)&lt;/script&gt; <b>x</b>"},
		{"nesting", "<b>a<i>b</i></b>", "HTML", "<b>a<i>b</i></b>"},
		{"safe link", `<a href="https://e.com/?q=&quot;x&quot;">l</a>`, "HTML", `<a href="https://e.com/?q=&#34;x&#34;" target="_blank" rel="noopener noreferrer">l</a>`},
		{"script link is inert", `<a href="javascript:alert(1)">l</a>`, "HTML", `<a class="inert" title="javascript:alert(1)">l</a>`},
		{"pre", "<pre><code class=\"language-sh\">a &lt; b</code></pre>", "HTML", `<pre data-language="sh"><code>a &lt; b</code></pre>`},
		{"spoiler and quote", "<tg-spoiler>s</tg-spoiler><blockquote>q</blockquote>", "HTML", `<span class="tg-spoiler" data-testid="spoiler">s</span><blockquote>q</blockquote>`},
		{"command", "/start", "", `<span class="cmd" data-testid="command-link" data-command="/start">/start</span>`},
		{"markdown", "*a* ~b~", "MarkdownV2", "<b>a</b> <s>b</s>"},
	}
	for _, c := range cases {
		text, ents, err := formatText(c.in, c.mode, "")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := string(renderEntities(text, ents)); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	// Overlapping entities (possible with explicit entities) are split, not mis-nested.
	got := string(renderEntities("abcd", []MessageEntity{{Type: "bold", Offset: 0, Length: 3}, {Type: "italic", Offset: 1, Length: 3}}))
	if want := "<b>a<i>bc</i></b><i>d</i>"; got != want {
		t.Errorf("overlap: got %s, want %s", got, want)
	}
}
