package telegram

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"unicode"
)

//go:embed sandbox
var sandboxFiles embed.FS

func parsePages() (*template.Template, error) {
	t, err := template.New("sandbox").Funcs(template.FuncMap{"initial": initial}).ParseFS(sandboxFiles, "sandbox/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse sandbox templates: %w", err)
	}
	return t, nil
}

func (s *Server) sandboxMux() *http.ServeMux {
	static, _ := fs.Sub(sandboxFiles, "sandbox")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.servePage)
	mux.Handle("GET /sandbox/static/", http.StripPrefix("/sandbox/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /sandbox/files/{id}", s.serveFile)
	mux.HandleFunc("GET /sandbox/api/users", s.apiUsers)
	mux.HandleFunc("POST /sandbox/api/users", s.apiCreateUser)
	mux.HandleFunc("GET /sandbox/api/chats/{id}/messages", s.apiMessages)
	mux.HandleFunc("POST /sandbox/api/chats/{id}/messages", s.apiSend)
	mux.HandleFunc("POST /sandbox/api/chats/{id}/callbacks", s.apiPress)
	mux.HandleFunc("POST /sandbox/api/chats/{id}/payments", s.apiPay)
	mux.HandleFunc("POST /sandbox/api/chats/{id}/block", s.apiBlock)
	mux.HandleFunc("GET /sandbox/api/chats/{id}/events", s.serveEvents)
	return mux
}

// Page view models.

type userView struct {
	User
	Blocked     bool
	Selected    bool
	Initial     string
	TemporalURL string
}

type bubbleView struct {
	ID       int
	FromBot  bool
	Service  string // a service message's text (payments)
	HTML     template.HTML
	PhotoSrc string
	Invoice  *Invoice
	Price    string
	PayText  string
	Keyboard [][]InlineButton
	Time     string
	Edited   bool
}

type pageView struct {
	BotName       string
	BotUsername   string
	Users         []userView
	Current       *userView
	Messages      []bubbleView
	Commands      []BotCommand
	ReplyKeyboard [][]string
}

func (s *Server) temporalURL(userID int64) string {
	if s.opts.TemporalUIURL == "" {
		return ""
	}
	return s.opts.TemporalUIURL + "/namespaces/" + url.PathEscape(s.opts.TemporalNamespace) +
		"/workflows?query=" + url.QueryEscape(fmt.Sprintf("TelegramUserID=%d", userID))
}

func initial(name string) string {
	for _, r := range name {
		return string(unicode.ToUpper(r))
	}
	return "?"
}

func formatPrice(inv *Invoice) string {
	if inv.Currency == "XTR" {
		return fmt.Sprintf("⭐️ %d", inv.TotalAmount)
	}
	return fmt.Sprintf("%d.%02d %s", inv.TotalAmount/100, inv.TotalAmount%100, inv.Currency)
}

func (s *Server) bubble(m Message) bubbleView {
	b := bubbleView{
		ID:       m.ID,
		FromBot:  m.FromBot,
		Keyboard: m.Keyboard,
		Time:     m.Date.Format("15:04"),
		Edited:   m.Edited,
		Invoice:  m.Invoice,
	}
	switch {
	case m.SuccessfulPayment != nil:
		b.Service = fmt.Sprintf("You paid ⭐️ %d to %s", m.SuccessfulPayment.TotalAmount, s.opts.BotName)
	case m.RefundedPayment != nil:
		b.Service = fmt.Sprintf("%s refunded ⭐️ %d", s.opts.BotName, m.RefundedPayment.TotalAmount)
	}
	if m.Caption != "" || m.PhotoFileID != "" {
		b.HTML = renderEntities(m.Caption, m.Entities)
	} else {
		b.HTML = renderEntities(m.Text, m.Entities)
	}
	switch {
	case m.PhotoURL != "":
		b.PhotoSrc = m.PhotoURL
	case m.PhotoFileID != "":
		b.PhotoSrc = "/sandbox/files/" + url.PathEscape(m.PhotoFileID)
	}
	if m.Invoice != nil {
		b.Price = formatPrice(m.Invoice)
		b.PayText = "Pay " + b.Price
		if len(m.Keyboard) > 0 && m.Keyboard[0][0].Kind == ButtonPay {
			b.PayText = m.Keyboard[0][0].Text
			b.Keyboard = cloneKeyboard(m.Keyboard)
			b.Keyboard[0] = b.Keyboard[0][1:]
		}
	}
	return b
}

func (s *Server) renderBubble(m Message) (string, error) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, "message", s.bubble(m)); err != nil {
		return "", fmt.Errorf("render message %d: %w", m.ID, err)
	}
	return buf.String(), nil
}

func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	selected, _ := strconv.ParseInt(r.URL.Query().Get("user"), 10, 64)
	s.mu.Lock()
	v := pageView{BotName: s.opts.BotName, BotUsername: s.opts.BotUsername}
	if selected == 0 && len(s.userOrder) > 0 {
		selected = s.userOrder[0]
	}
	var current *account
	for _, id := range s.userOrder {
		a := s.users[id]
		v.Users = append(v.Users, userView{User: a.User, Blocked: a.blocked, Selected: id == selected,
			Initial: initial(a.FirstName), TemporalURL: s.temporalURL(id)})
		if id == selected {
			current = a
		}
	}
	var msgs []Message
	if current != nil {
		for _, m := range current.messages {
			if !m.deleted {
				msgs = append(msgs, s.snapshotLocked(m))
			}
		}
		v.ReplyKeyboard = cloneRows(current.replyKeyboard)
	}
	s.mu.Unlock()
	for i := range v.Users {
		if v.Users[i].Selected {
			v.Current = &v.Users[i]
			v.Commands = s.Commands(v.Current.LanguageCode)
		}
	}
	for _, m := range msgs {
		v.Messages = append(v.Messages, s.bubble(m))
	}
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, "page", v); err != nil {
		http.Error(w, "render sandbox page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src * data:; style-src 'self'; script-src 'self'")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f, ok := s.files[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Cache-Control", "private, max-age=86400")
	_, _ = w.Write(f.data)
}
