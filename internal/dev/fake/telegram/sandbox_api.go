package telegram

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// JSON API used by the page's script and by tests.

type apiFailure struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// readJSONBody decodes a small JSON request body. Requiring the JSON
// content type keeps other sites from posting forms to the sandbox.
func readJSONBody(w http.ResponseWriter, r *http.Request, dst any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, apiFailure{"send application/json"})
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(body, dst)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiFailure{"invalid JSON body: " + err.Error()})
		return false
	}
	return true
}

func chatIDParam(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiFailure{"chat id must be a number"})
		return 0, false
	}
	return id, true
}

func failStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnknownUser):
		return http.StatusNotFound
	case errors.Is(err, ErrBlocked):
		return http.StatusConflict
	case errors.Is(err, ErrPreCheckoutTimeout):
		return http.StatusGatewayTimeout
	}
	var declined *PaymentDeclinedError
	if errors.As(err, &declined) {
		return http.StatusPaymentRequired
	}
	return http.StatusUnprocessableEntity
}

type userJSON struct {
	User
	Blocked bool `json:"blocked"`
}

func (s *Server) apiUsers(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]userJSON, 0, len(s.userOrder))
	for _, id := range s.userOrder {
		out = append(out, userJSON{User: s.users[id].User, Blocked: s.users[id].blocked})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// usernameFor derives a Telegram-looking username from a display name.
func usernameFor(name string, id int64) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		b.WriteString("user")
	}
	return fmt.Sprintf("%s_%d", b.String(), id%10000)
}

func (s *Server) apiCreateUser(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name         string `json:"name"`
		LanguageCode string `json:"language_code"`
	}
	if !readJSONBody(w, r, &req) {
		return
	}
	first, last, _ := strings.Cut(strings.TrimSpace(req.Name), " ")
	if first == "" {
		writeJSON(w, http.StatusBadRequest, apiFailure{"name is required"})
		return
	}
	u, err := s.AddUser(User{FirstName: first, LastName: strings.TrimSpace(last), LanguageCode: req.LanguageCode})
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiFailure{err.Error()})
		return
	}
	s.mu.Lock()
	s.users[u.ID].Username = usernameFor(first, u.ID)
	u = s.users[u.ID].User
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, u)
}

// messageJSON is a message as the page's script and tests read it.
type messageJSON struct {
	ID       int             `json:"id"`
	FromBot  bool            `json:"from_bot"`
	Date     int64           `json:"date"`
	Text     string          `json:"text,omitempty"`
	Caption  string          `json:"caption,omitempty"`
	Entities []MessageEntity `json:"entities,omitempty"`
	Keyboard [][]buttonJSON  `json:"keyboard,omitempty"`
	PhotoURL string          `json:"photo_url,omitempty"`
	Invoice  *invoiceJSON    `json:"invoice,omitempty"`
	Edited   bool            `json:"edited,omitempty"`
	Deleted  bool            `json:"deleted,omitempty"`
	HTML     string          `json:"html"`
}

type buttonJSON struct {
	Text         string `json:"text"`
	Kind         string `json:"kind"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

type invoiceJSON struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Currency    string `json:"currency"`
	TotalAmount int    `json:"total_amount"`
	Paid        bool   `json:"paid"`
}

func (s *Server) messageJSON(m Message) (messageJSON, error) {
	html := ""
	if !m.Deleted {
		var err error
		if html, err = s.renderBubble(m); err != nil {
			return messageJSON{}, err
		}
	}
	out := messageJSON{
		ID: m.ID, FromBot: m.FromBot, Date: m.Date.Unix(), Text: m.Text, Caption: m.Caption,
		Entities: m.Entities, Edited: m.Edited, Deleted: m.Deleted, HTML: html,
	}
	for _, row := range m.Keyboard {
		var r []buttonJSON
		for _, b := range row {
			r = append(r, buttonJSON{Text: b.Text, Kind: b.Kind, CallbackData: b.CallbackData, URL: b.URL})
		}
		out.Keyboard = append(out.Keyboard, r)
	}
	switch {
	case m.PhotoURL != "":
		out.PhotoURL = m.PhotoURL
	case m.PhotoFileID != "":
		out.PhotoURL = "/sandbox/files/" + url.PathEscape(m.PhotoFileID)
	}
	if inv := m.Invoice; inv != nil {
		out.Invoice = &invoiceJSON{Title: inv.Title, Description: inv.Description, Currency: inv.Currency, TotalAmount: inv.TotalAmount, Paid: inv.ChargeID != ""}
	}
	return out, nil
}

func (s *Server) apiMessages(w http.ResponseWriter, r *http.Request) {
	id, ok := chatIDParam(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	known := s.users[id] != nil
	s.mu.Unlock()
	if !known {
		writeJSON(w, http.StatusNotFound, apiFailure{ErrUnknownUser.Error()})
		return
	}
	out := []messageJSON{}
	for _, m := range s.Conversation(id) {
		mj, err := s.messageJSON(m)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, apiFailure{err.Error()})
			return
		}
		out = append(out, mj)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiSend(w http.ResponseWriter, r *http.Request) {
	id, ok := chatIDParam(w, r)
	var req struct {
		Text string `json:"text"`
	}
	if !ok || !readJSONBody(w, r, &req) {
		return
	}
	m, err := s.SendText(id, req.Text)
	if err != nil {
		writeJSON(w, failStatus(err), apiFailure{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"message_id": m.ID})
}

func (s *Server) apiPress(w http.ResponseWriter, r *http.Request) {
	id, ok := chatIDParam(w, r)
	var req struct {
		MessageID int    `json:"message_id"`
		Data      string `json:"data"`
	}
	if !ok || !readJSONBody(w, r, &req) {
		return
	}
	qid, err := s.PressButton(id, req.MessageID, req.Data)
	if err != nil {
		writeJSON(w, failStatus(err), apiFailure{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"callback_query_id": qid})
}

func (s *Server) apiPay(w http.ResponseWriter, r *http.Request) {
	id, ok := chatIDParam(w, r)
	var req struct {
		MessageID int `json:"message_id"`
	}
	if !ok || !readJSONBody(w, r, &req) {
		return
	}
	charge, err := s.PayStarsInvoice(r.Context(), id, req.MessageID)
	if err != nil {
		msg := err.Error()
		var declined *PaymentDeclinedError
		if errors.As(err, &declined) {
			msg = declined.Message
		}
		writeJSON(w, failStatus(err), apiFailure{msg})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"telegram_payment_charge_id": charge})
}

func (s *Server) apiBlock(w http.ResponseWriter, r *http.Request) {
	id, ok := chatIDParam(w, r)
	var req struct {
		Blocked bool `json:"blocked"`
	}
	if !ok || !readJSONBody(w, r, &req) {
		return
	}
	if err := s.BlockBot(id, req.Blocked); err != nil {
		writeJSON(w, failStatus(err), apiFailure{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"blocked": req.Blocked})
}
