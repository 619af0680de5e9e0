package cryptopay

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits the real API enforces on invoices.
const (
	maxPayloadBytes       = 4096
	maxDescriptionRunes   = 1024
	maxHiddenMessageRunes = 2048
	maxExpiresIn          = 2678400
	defaultCount          = 100
	maxCount              = 1000
	maxRequestBytes       = 1 << 20
)

// apiError is an {"ok":false} answer.
type apiError struct {
	status int
	name   string
}

func (e *apiError) Error() string { return e.name }

func badParam(name string) *apiError { return &apiError{status: http.StatusBadRequest, name: name} }

// serveAPI answers /api/{method} in Crypto Pay's envelope.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	call := Call{Method: method, HTTPMethod: r.Method, At: s.now()}
	root := s.rootURL(r)

	result, aerr := s.answer(r, method, root, &call)

	status := http.StatusOK
	var body any = map[string]any{"ok": true, "result": result}
	if aerr != nil {
		status = aerr.status
		call.Error = aerr.name
		body = map[string]any{"ok": false, "error": map[string]any{"code": aerr.status, "name": aerr.name}}
	}
	call.Status = status

	s.mu.Lock()
	s.calls = append(s.calls, call)
	latency := s.latency
	s.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-s.stopCtx.Done():
		}
		t.Stop()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // the client may have gone; nothing to do about it
}

// answer runs one API call: injected failure, token check, parameters,
// then the method.
func (s *Server) answer(r *http.Request, method, root string, call *Call) (any, *apiError) {
	s.mu.Lock()
	if len(s.failures) > 0 {
		status := s.failures[0]
		s.failures = s.failures[1:]
		s.mu.Unlock()
		name := "INTERNAL_ERROR"
		if status == http.StatusTooManyRequests {
			name = "FLOOD_WAIT"
		}
		return nil, &apiError{status: status, name: name}
	}
	s.mu.Unlock()

	token := r.Header.Get("Crypto-Pay-API-Token")
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.Token)) != 1 {
		return nil, &apiError{status: http.StatusUnauthorized, name: "UNAUTHORIZED"}
	}
	params, err := readParams(r)
	call.Params = params
	if err != nil {
		return nil, badParam("PARAMS_INVALID")
	}
	switch method {
	case "getMe":
		return map[string]any{
			"app_id":                          s.opts.AppID,
			"name":                            s.opts.AppName,
			"payment_processing_bot_username": s.opts.BotUsername,
		}, nil
	case "createInvoice":
		return s.createInvoice(params, root)
	case "getInvoices":
		return s.getInvoices(params)
	default:
		return nil, &apiError{status: http.StatusMethodNotAllowed, name: "METHOD_NOT_FOUND"}
	}
}

// readParams collects parameters from the query string and, for a POST,
// from a JSON or form body, all as text the way the API reads them. JSON
// arrays become comma-separated lists.
func readParams(r *http.Request) (map[string]string, error) {
	params := map[string]string{}
	for k, v := range r.URL.Query() {
		params[k] = v[0]
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return params, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		return params, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxRequestBytes {
		return params, errors.New("body too large")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return params, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := r.ParseForm(); err != nil {
			return params, fmt.Errorf("parse form: %w", err)
		}
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
		return params, nil
	default: // JSON, with or without the header
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			return params, fmt.Errorf("parse JSON: %w", err)
		}
		for k, v := range raw {
			text, present, err := jsonText(v)
			if err != nil {
				return params, fmt.Errorf("parameter %s: %w", k, err)
			}
			if present {
				params[k] = text
			}
		}
		return params, nil
	}
}

// jsonText renders a JSON parameter as text; null means absent.
func jsonText(v json.RawMessage) (string, bool, error) {
	v = bytes.TrimSpace(v)
	switch {
	case string(v) == "null":
		return "", false, nil
	case len(v) > 0 && v[0] == '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, true, err
	case len(v) > 0 && v[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return "", false, err
		}
		parts := make([]string, 0, len(items))
		for _, it := range items {
			text, ok, err := jsonText(it)
			if err != nil {
				return "", false, err
			}
			if ok {
				parts = append(parts, text)
			}
		}
		return strings.Join(parts, ","), true, nil
	case len(v) > 0 && v[0] == '{':
		return "", false, errors.New("objects are not accepted")
	default: // number or boolean, kept as written
		return string(v), true, nil
	}
}

func (s *Server) createInvoice(p map[string]string, root string) (any, *apiError) {
	inv := Invoice{
		CurrencyType:   p["currency_type"],
		Amount:         p["amount"],
		Description:    p["description"],
		HiddenMessage:  p["hidden_message"],
		Payload:        p["payload"],
		PaidBtnName:    p["paid_btn_name"],
		PaidBtnURL:     p["paid_btn_url"],
		AllowComments:  true,
		AllowAnonymous: true,
		Status:         StatusActive,
	}
	if inv.CurrencyType == "" {
		inv.CurrencyType = "crypto"
	}
	switch inv.CurrencyType {
	case "crypto":
		inv.Asset = p["asset"]
		if _, ok := assetUSD()[inv.Asset]; !ok {
			return nil, badParam("ASSET_INVALID")
		}
	case "fiat":
		inv.Fiat = p["fiat"]
		if _, ok := fiatUSD()[inv.Fiat]; !ok {
			return nil, badParam("FIAT_INVALID")
		}
		inv.AcceptedAssets = defaultAssets()
		if list := p["accepted_assets"]; list != "" {
			inv.AcceptedAssets = strings.Split(list, ",")
			for _, a := range inv.AcceptedAssets {
				if _, ok := assetUSD()[a]; !ok {
					return nil, badParam("ACCEPTED_ASSETS_INVALID")
				}
			}
		}
	default:
		return nil, badParam("CURRENCY_TYPE_INVALID")
	}
	if !positiveDecimal(inv.Amount) {
		return nil, badParam("AMOUNT_INVALID")
	}
	if utf8.RuneCountInString(inv.Description) > maxDescriptionRunes {
		return nil, badParam("DESCRIPTION_TOO_LONG")
	}
	if utf8.RuneCountInString(inv.HiddenMessage) > maxHiddenMessageRunes {
		return nil, badParam("HIDDEN_MESSAGE_TOO_LONG")
	}
	if len(inv.Payload) > maxPayloadBytes {
		return nil, badParam("PAYLOAD_TOO_LONG")
	}
	if inv.PaidBtnName != "" && !slices.Contains([]string{"viewItem", "openChannel", "openBot", "callback"}, inv.PaidBtnName) {
		return nil, badParam("PAID_BTN_NAME_INVALID")
	}
	if (inv.PaidBtnName == "") != (inv.PaidBtnURL == "") {
		return nil, badParam("PAID_BTN_URL_INVALID")
	}
	for key, dst := range map[string]*bool{"allow_comments": &inv.AllowComments, "allow_anonymous": &inv.AllowAnonymous} {
		if v, ok := p[key]; ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, badParam(strings.ToUpper(key) + "_INVALID")
			}
			*dst = b
		}
	}
	var expiresIn int64
	if v, ok := p["expires_in"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > maxExpiresIn {
			return nil, badParam("EXPIRES_IN_INVALID")
		}
		expiresIn = n
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC().Truncate(time.Millisecond)
	s.nextID++
	inv.InvoiceID = s.nextID
	inv.Hash = newHash()
	inv.CreatedAt = now
	if expiresIn > 0 {
		inv.ExpirationDate = now.Add(time.Duration(expiresIn) * time.Second)
	}
	page := root + "/pay/" + inv.Hash
	inv.BotInvoiceURL = page
	inv.PayURL = page
	inv.MiniAppInvoiceURL = page + "?via=mini_app"
	inv.WebAppInvoiceURL = page + "?via=web_app"
	rec := &record{inv: inv}
	s.invoices = append(s.invoices, rec)
	s.byID[inv.InvoiceID] = rec
	s.byHash[inv.Hash] = rec
	return inv.clone(), nil
}

// getInvoices lists invoices newest first, filtered and paged.
func (s *Server) getInvoices(p map[string]string) (any, *apiError) {
	var ids map[int64]bool
	if list := p["invoice_ids"]; list != "" {
		ids = map[int64]bool{}
		for _, part := range strings.Split(list, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
			if err != nil || id <= 0 {
				return nil, badParam("INVOICE_IDS_INVALID")
			}
			ids[id] = true
		}
	}
	status := p["status"]
	if status != "" && status != StatusActive && status != StatusPaid {
		return nil, badParam("STATUS_INVALID")
	}
	offset, count := 0, defaultCount
	if v, ok := p["offset"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, badParam("OFFSET_INVALID")
		}
		offset = n
	}
	if v, ok := p["count"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxCount {
			return nil, badParam("COUNT_INVALID")
		}
		count = n
	}
	asset, fiat := p["asset"], p["fiat"]

	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	items := []Invoice{}
	for i := len(s.invoices) - 1; i >= 0; i-- {
		inv := s.invoices[i].inv
		switch {
		case ids != nil && !ids[inv.InvoiceID],
			status != "" && inv.Status != status,
			asset != "" && inv.Asset != asset,
			fiat != "" && inv.Fiat != fiat:
			continue
		}
		if offset > 0 {
			offset--
			continue
		}
		if len(items) == count {
			break
		}
		items = append(items, inv.clone())
	}
	return map[string]any{"items": items}, nil
}

// positiveDecimal reports whether s is a plain decimal above zero.
func positiveDecimal(s string) bool {
	whole, frac, hasPoint := strings.Cut(s, ".")
	digits := func(t string) bool {
		return t != "" && strings.Trim(t, "0123456789") == ""
	}
	if !digits(whole) || (hasPoint && !digits(frac)) || len(s) > 40 {
		return false
	}
	return strings.Trim(whole+frac, "0") != ""
}

// defaultAssets is what a fiat invoice accepts when it does not say,
// stablecoin first so a default payment is easy to read.
func defaultAssets() []string {
	return []string{"USDT", "TON", "BTC", "ETH", "LTC", "BNB", "TRX", "USDC"}
}
