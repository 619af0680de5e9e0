package cryptopay

import (
	"bytes"
	_ "embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
)

//go:embed pay.html
var payPageHTML string

func parsePayPage() (*template.Template, error) {
	return template.New("pay").Parse(payPageHTML)
}

type payPageData struct {
	Inv       Invoice
	Price     string   // amount with its asset or fiat
	Assets    []string // choices for a fiat invoice
	ReturnURL string
	Error     string
}

// servePayPage shows an invoice and, while it is active, the buttons to
// pay it or let it expire.
func (s *Server) servePayPage(w http.ResponseWriter, r *http.Request) {
	inv, ok := s.InvoiceByHash(r.PathValue("hash"))
	if !ok {
		http.Error(w, "invoice not found", http.StatusNotFound)
		return
	}
	s.renderPayPage(w, http.StatusOK, inv, "")
}

// servePayAction pays the invoice with the webhook options ticked on the
// page, then shows the page again.
func (s *Server) servePayAction(w http.ResponseWriter, r *http.Request) {
	hash := r.PathValue("hash")
	inv, ok := s.InvoiceByHash(hash)
	if !ok {
		http.Error(w, "invoice not found", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	var b *WebhookBehavior
	switch {
	case r.PostForm.Get("drop_webhook") != "":
		b = &WebhookBehavior{Drop: true}
	case r.PostForm.Get("duplicate_webhook") != "":
		b = &WebhookBehavior{Copies: 3}
	}
	err := s.PayWith(inv.InvoiceID, PayOptions{Asset: r.PostForm.Get("asset"), Webhook: b})
	s.afterAction(w, hash, err)
}

// serveExpireAction expires the invoice now.
func (s *Server) serveExpireAction(w http.ResponseWriter, r *http.Request) {
	hash := r.PathValue("hash")
	inv, ok := s.InvoiceByHash(hash)
	if !ok {
		http.Error(w, "invoice not found", http.StatusNotFound)
		return
	}
	s.afterAction(w, hash, s.Expire(inv.InvoiceID))
}

// afterAction redirects back to the page on success (so a reload does not
// repeat the action) or shows the page with the error.
func (s *Server) afterAction(w http.ResponseWriter, hash string, err error) {
	if err != nil {
		inv, _ := s.InvoiceByHash(hash)
		status := http.StatusBadRequest
		if errors.Is(err, ErrNotActive) {
			status = http.StatusConflict
		}
		s.renderPayPage(w, status, inv, err.Error())
		return
	}
	// Relative, so the page works when the handler is mounted under a prefix.
	w.Header().Set("Location", "../"+url.PathEscape(hash))
	w.WriteHeader(http.StatusSeeOther)
}

func (s *Server) renderPayPage(w http.ResponseWriter, status int, inv Invoice, errText string) {
	data := payPageData{Inv: inv, Error: errText, ReturnURL: inv.PaidBtnURL}
	if data.ReturnURL == "" {
		data.ReturnURL = s.opts.ReturnURL
	}
	if inv.CurrencyType == "fiat" {
		data.Price = inv.Amount + " " + inv.Fiat
		data.Assets = inv.AcceptedAssets
	} else {
		data.Price = inv.Amount + " " + inv.Asset
	}
	var buf bytes.Buffer
	if err := s.page.Execute(&buf, data); err != nil {
		http.Error(w, "pay page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
