package cryptopay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Amounts travel as decimal strings and are held by us as integers of minor
// units (cents for fiat); no float is involved anywhere, so a price can
// never drift by a rounding error.

// maxDecimals is the most fractional digits an int64 of minor units can
// usefully carry (10^18 fits, 10^19 does not).
const maxDecimals = 18

// Decimal is an amount as Crypto Pay writes it, e.g. "10.50". It decodes
// from a JSON string or a JSON number (some fields, such as fee_amount,
// have been seen as numbers) without passing through float64.
type Decimal string

// UnmarshalJSON accepts "1.5", 1.5 and 1.5e-3; the number forms are
// rewritten exactly as plain decimals.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decimal: %w", err)
		}
		*d = Decimal(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("decimal: %s is neither a string nor a number", b)
	}
	s := n.String()
	if strings.ContainsAny(s, "eE") {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return fmt.Errorf("decimal: cannot read %s", s)
		}
		s = exactDecimal(r)
	}
	*d = Decimal(s)
	return nil
}

// exactDecimal writes r, which came from a finite decimal, with as many
// fractional digits as it needs and no more.
func exactDecimal(r *big.Rat) string {
	prec := 0
	scaled := new(big.Rat).Set(r)
	ten := big.NewRat(10, 1)
	for !scaled.IsInt() && prec < 64 {
		scaled.Mul(scaled, ten)
		prec++
	}
	return r.FloatString(prec)
}

// Minor converts d to integer minor units with the given number of
// decimals; see ParseMinor.
func (d Decimal) Minor(decimals int) (int64, error) {
	return ParseMinor(string(d), decimals)
}

// FormatCents writes an amount in cents as a decimal string with two
// decimals: 1050 → "10.50".
func FormatCents(cents int64) string {
	s, _ := FormatMinor(cents, 2) // 2 is always a valid number of decimals
	return s
}

// ParseCents reads a decimal string as cents: "10.5" → 1050.
func ParseCents(s string) (int64, error) {
	return ParseMinor(s, 2)
}

// FormatMinor writes units of 10^-decimals as a decimal string:
// FormatMinor(1050, 2) = "10.50", FormatMinor(5, 9) = "0.000000005".
func FormatMinor(units int64, decimals int) (string, error) {
	if decimals < 0 || decimals > maxDecimals {
		return "", fmt.Errorf("format amount: decimals must be between 0 and %d, got %d", maxDecimals, decimals)
	}
	sign := ""
	abs := uint64(units)
	if units < 0 {
		sign = "-"
		abs = uint64(-(units + 1)) + 1 // safe for math.MinInt64
	}
	digits := strconv.FormatUint(abs, 10)
	if decimals == 0 {
		return sign + digits, nil
	}
	if len(digits) <= decimals {
		digits = strings.Repeat("0", decimals-len(digits)+1) + digits
	}
	cut := len(digits) - decimals
	return sign + digits[:cut] + "." + digits[cut:], nil
}

// ParseMinor reads a non-negative decimal string ("10", "10.5", "10.50")
// as units of 10^-decimals. Digits beyond decimals are accepted only when
// they are zeros, so "10.500" is 1050 cents but "10.505" is an error rather
// than a silently rounded price.
func ParseMinor(s string, decimals int) (int64, error) {
	if decimals < 0 || decimals > maxDecimals {
		return 0, fmt.Errorf("parse amount %q: decimals must be between 0 and %d, got %d", s, maxDecimals, decimals)
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if !allDigits(whole) || (hasPoint && !allDigits(frac)) {
		return 0, fmt.Errorf("parse amount %q: not a non-negative decimal number", s)
	}
	if len(frac) > decimals {
		if strings.Trim(frac[decimals:], "0") != "" {
			return 0, fmt.Errorf("parse amount %q: more than %d decimal places", s, decimals)
		}
		frac = frac[:decimals]
	}
	frac += strings.Repeat("0", decimals-len(frac))
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return 0, nil
	}
	units, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse amount %q: too large", s)
	}
	return units, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isPositiveDecimal reports whether s is a plain decimal above zero.
func isPositiveDecimal(s string) bool {
	whole, frac, hasPoint := strings.Cut(s, ".")
	if !allDigits(whole) || (hasPoint && !allDigits(frac)) {
		return false
	}
	return strings.Trim(whole+frac, "0") != ""
}
