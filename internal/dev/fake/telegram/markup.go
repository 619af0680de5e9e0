package telegram

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// markup is a parsed reply_markup parameter.
type markup struct {
	inline      [][]InlineButton // nil when none or empty
	reply       [][]string       // custom reply keyboard
	removeReply bool
}

const badMarkup = "can't parse reply keyboard markup JSON object"

func parseMarkup(p *params) (markup, error) {
	raw := strings.TrimSpace(p.str("reply_markup"))
	if raw == "" {
		return markup{}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &obj); err != nil {
		return markup{}, badRequest(badMarkup)
	}
	switch {
	case obj["inline_keyboard"] != nil:
		kb, err := parseInlineKeyboard(obj["inline_keyboard"])
		return markup{inline: kb}, err
	case obj["keyboard"] != nil:
		kb, err := parseReplyKeyboard(obj["keyboard"])
		return markup{reply: kb}, err
	case obj["remove_keyboard"] != nil:
		return markup{removeReply: true}, nil
	case obj["force_reply"] != nil:
		return markup{}, nil
	}
	return markup{}, badRequest(badMarkup)
}

func parseInlineKeyboard(raw json.RawMessage) ([][]InlineButton, error) {
	var rows [][]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, badRequest("can't parse inline keyboard: field \"inline_keyboard\" must be an Array of Arrays of InlineKeyboardButton")
	}
	var kb [][]InlineButton
	for _, row := range rows {
		if len(row) == 0 {
			continue
		}
		var out []InlineButton
		for _, obj := range row {
			b, err := parseInlineButton(obj)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		kb = append(kb, out)
	}
	return kb, nil
}

func parseInlineButton(obj map[string]json.RawMessage) (InlineButton, error) {
	var b InlineButton
	if err := json.Unmarshal(obj["text"], &b.Text); err != nil || obj["text"] == nil {
		return b, badRequest("can't parse inline keyboard button: Field \"text\" must be of type String")
	}
	if strings.TrimSpace(b.Text) == "" {
		return b, badRequest("BUTTON_TEXT_INVALID")
	}
	str := func(key string) string {
		var v string
		_ = json.Unmarshal(obj[key], &v)
		return v
	}
	field := func(key, name string) string {
		var v map[string]json.RawMessage
		_ = json.Unmarshal(obj[key], &v)
		var f string
		_ = json.Unmarshal(v[name], &f)
		return f
	}
	// go-telegram/bot always sends "copy_text":{"text":""}; Telegram treats
	// an empty value of any kind as absent, so do the same.
	switch {
	case str("callback_data") != "":
		b.Kind, b.CallbackData = ButtonCallback, str("callback_data")
		if len(b.CallbackData) > 64 {
			return b, badRequest("BUTTON_DATA_INVALID")
		}
	case str("url") != "":
		b.Kind, b.URL = ButtonURL, str("url")
		if !validButtonURL(b.URL) {
			return b, badRequest("BUTTON_URL_INVALID")
		}
	case bytes.Equal(bytes.TrimSpace(obj["pay"]), []byte("true")):
		b.Kind = ButtonPay
	case field("copy_text", "text") != "":
		b.Kind, b.CopyText = ButtonCopyText, field("copy_text", "text")
	case field("web_app", "url") != "":
		b.Kind, b.URL = ButtonWebApp, field("web_app", "url")
	case field("login_url", "url") != "":
		b.Kind, b.URL = ButtonLoginURL, field("login_url", "url")
	default:
		for _, kind := range []string{"switch_inline_query", "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "callback_game"} {
			if v := bytes.TrimSpace(obj[kind]); len(v) > 0 && !bytes.Equal(v, []byte("null")) {
				b.Kind, b.rawValue = kind, string(v)
				return b, nil
			}
		}
		return b, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
	}
	return b, nil
}

func validButtonURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	case "tg", "ton":
		return true
	}
	return false
}

func parseReplyKeyboard(raw json.RawMessage) ([][]string, error) {
	var rows [][]json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, badRequest(badMarkup)
	}
	var kb [][]string
	for _, row := range rows {
		var out []string
		for _, cell := range row {
			var text string
			if json.Unmarshal(cell, &text) != nil {
				var obj struct {
					Text string `json:"text"`
				}
				if json.Unmarshal(cell, &obj) != nil || obj.Text == "" {
					return nil, badRequest("can't parse keyboard button: Field \"text\" must be of type String")
				}
				text = obj.Text
			}
			out = append(out, text)
		}
		if len(out) > 0 {
			kb = append(kb, out)
		}
	}
	return kb, nil
}

func keyboardsEqual(a, b [][]InlineButton) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}
