package telegram

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// params are a request's parameters as text, whatever encoding they came
// in: form fields hold JSON text for objects, and so do JSON bodies here.
type params struct {
	values map[string]string
	files  map[string]upload
}

type upload struct {
	filename string
	data     []byte
}

// errBodyTooLarge is answered 413 like Telegram's front end does.
var errBodyTooLarge = errors.New("request body too large")

func readParams(r *http.Request) (*params, error) {
	p := &params{values: map[string]string{}, files: map[string]upload{}}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			p.values[k] = v[0]
		}
	}
	if r.Body == nil {
		return p, nil
	}
	ct := r.Header.Get("Content-Type")
	mediaType, mtParams, _ := mime.ParseMediaType(ct)
	var err error
	switch mediaType {
	case "multipart/form-data":
		err = readMultipart(r.Body, mtParams["boundary"], p)
	case "application/x-www-form-urlencoded":
		err = readURLEncoded(r.Body, p)
	case "application/json":
		err = readJSON(r.Body, p)
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errBodyTooLarge
	}
	return p, err
}

func readMultipart(body io.Reader, boundary string, p *params) error {
	if boundary == "" {
		return errors.New("multipart body without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read multipart body: %w", err)
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return fmt.Errorf("read multipart field %q: %w", part.FormName(), err)
		}
		name := part.FormName()
		if name == "" {
			continue
		}
		if part.FileName() != "" {
			p.files[name] = upload{filename: part.FileName(), data: data}
			continue
		}
		p.values[name] = string(data)
	}
}

func readURLEncoded(body io.Reader, p *params) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("read form body: %w", err)
	}
	q, err := url.ParseQuery(string(data))
	if err != nil {
		return fmt.Errorf("parse form body: %w", err)
	}
	for k, v := range q {
		if len(v) > 0 {
			p.values[k] = v[0]
		}
	}
	return nil
}

func readJSON(body io.Reader, p *params) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("read JSON body: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return fmt.Errorf("parse JSON body: %w", err)
	}
	for k, raw := range obj {
		raw = bytes.TrimSpace(raw)
		switch {
		case bytes.Equal(raw, []byte("null")):
		case len(raw) > 0 && raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("parse JSON field %q: %w", k, err)
			}
			p.values[k] = s
		default:
			p.values[k] = string(raw)
		}
	}
	return nil
}

func (p *params) has(name string) bool {
	_, ok := p.values[name]
	return ok
}

func (p *params) str(name string) string { return p.values[name] }

// int64 reads an integer parameter; absent or empty reads as 0, false.
func (p *params) int64(name string) (int64, bool, error) {
	v := strings.TrimSpace(p.values[name])
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, true, badRequest("invalid %s specified", name)
	}
	return n, true, nil
}

func (p *params) int(name string) (int, bool, error) {
	n, ok, err := p.int64(name)
	if err != nil {
		return 0, ok, err
	}
	if n != int64(int(n)) || n > 1<<31-1 || n < -(1<<31) {
		return 0, ok, badRequest("invalid %s specified", name)
	}
	return int(n), ok, nil
}

// boolean reads a Boolean parameter the lenient way the Bot API does.
func (p *params) boolean(name string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(p.values[name])) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, badRequest("invalid %s specified", name)
}

// json decodes an object parameter; absent reads as false.
func (p *params) json(name string, dst any) (bool, error) {
	v, ok := p.values[name]
	if !ok || strings.TrimSpace(v) == "" {
		return false, nil
	}
	if err := json.Unmarshal([]byte(v), dst); err != nil {
		return true, badRequest("can't parse %s JSON object", name)
	}
	return true, nil
}

func (p *params) record() (map[string]string, map[string]string) {
	values := make(map[string]string, len(p.values))
	for k, v := range p.values {
		values[k] = v
	}
	var files map[string]string
	if len(p.files) > 0 {
		files = make(map[string]string, len(p.files))
		for k, f := range p.files {
			files[k] = f.filename
		}
	}
	return values, files
}
