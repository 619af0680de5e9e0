package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Parsing helpers: turning the environment library's errors into ones that
// name the variable, and the format checks of single values.

// regionPattern is a node's region label (store.ValidNodeName).
var regionPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// friendly turns caarlos0/env's field-named errors into variable-named ones.
func friendly(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := reflect.TypeOf(Config{}).FieldByName(pe.Name); ok {
				name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
				out = append(out, fmt.Errorf("%s: cannot parse as %s: %w", name, kindName(pe.Type), unwrapNum(pe.Err)))
				continue
			}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

func kindName(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "a duration (e.g. 90s, 1h)"
	case t.Kind() == reflect.Slice:
		return "a comma-separated list of integers"
	case t.Kind() == reflect.Int, t.Kind() == reflect.Int64:
		return "an integer"
	}
	return t.String()
}

func unwrapNum(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return fmt.Errorf("%q is not a number", ne.Num)
	}
	return err
}

func fieldByEnv(name string) (reflect.StructField, bool) {
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if n, _, _ := strings.Cut(f.Tag.Get("env"), ","); n == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func hostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("must be host:port, got %q", s)
	}
	_ = host
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be 0-65535, got %q", port)
	}
	return nil
}

func isLoopbackURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

func httpURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an http(s) URL, got %q", s)
	}
	return nil
}

func parseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("must be comma-separated positive durations such as 72h,24h,1h; %q is not", part)
		}
		out = append(out, d)
	}
	return out, nil
}

func isHex(s string) bool {
	if len(s) > 16 || len(s)%2 != 0 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}
