package cryptopay

import (
	"encoding/json"
	"math"
	"testing"
)

func TestFormatMinor(t *testing.T) {
	tests := []struct {
		units    int64
		decimals int
		want     string
	}{
		{1050, 2, "10.50"},
		{499, 2, "4.99"},
		{5, 2, "0.05"},
		{0, 2, "0.00"},
		{-5, 2, "-0.05"},
		{100, 0, "100"},
		{5, 9, "0.000000005"},
		{123456789, 6, "123.456789"},
		{math.MaxInt64, 2, "92233720368547758.07"},
		{math.MinInt64, 2, "-92233720368547758.08"},
		{1, 18, "0.000000000000000001"},
	}
	for _, tt := range tests {
		got, err := FormatMinor(tt.units, tt.decimals)
		if err != nil || got != tt.want {
			t.Errorf("FormatMinor(%d, %d) = %q, %v; want %q", tt.units, tt.decimals, got, err, tt.want)
		}
	}
	for _, d := range []int{-1, 19} {
		if _, err := FormatMinor(1, d); err == nil {
			t.Errorf("FormatMinor(1, %d): want an error", d)
		}
	}
	if got := FormatCents(1999); got != "19.99" {
		t.Errorf("FormatCents(1999) = %q", got)
	}
}

func TestParseMinor(t *testing.T) {
	tests := []struct {
		s        string
		decimals int
		want     int64
	}{
		{"10.50", 2, 1050},
		{"10.5", 2, 1050},
		{"10", 2, 1000},
		{"10.500000", 2, 1050},
		{"0.05", 2, 5},
		{"0", 2, 0},
		{"007.10", 2, 710},
		{"0.000000005", 9, 5},
		{"92233720368547758.07", 2, math.MaxInt64},
	}
	for _, tt := range tests {
		got, err := ParseMinor(tt.s, tt.decimals)
		if err != nil || got != tt.want {
			t.Errorf("ParseMinor(%q, %d) = %d, %v; want %d", tt.s, tt.decimals, got, err, tt.want)
		}
	}
	bad := []string{"", "-1", "+1", "1.", ".5", "1.2.3", "1e3", " 1", "1 ", "1,5", "10.505", "92233720368547758.08", "NaN"}
	for _, s := range bad {
		if got, err := ParseMinor(s, 2); err == nil {
			t.Errorf("ParseMinor(%q, 2) = %d, want an error", s, got)
		}
	}
	if _, err := ParseMinor("1", 19); err == nil {
		t.Error("ParseMinor with 19 decimals: want an error")
	}
}

func TestMinorRoundTrip(t *testing.T) {
	for _, decimals := range []int{0, 2, 6, 9, 18} {
		for _, units := range []int64{0, 1, 9, 10, 99, 100, 101, 123456789, math.MaxInt64} {
			s, err := FormatMinor(units, decimals)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseMinor(s, decimals)
			if err != nil || back != units {
				t.Errorf("decimals %d: %d → %q → %d, %v", decimals, units, s, back, err)
			}
		}
	}
}

func TestDecimalUnmarshal(t *testing.T) {
	tests := []struct {
		json string
		want Decimal
	}{
		{`"4.99"`, "4.99"},
		{`0.15`, "0.15"},
		{`3`, "3"},
		{`1.5e-5`, "0.000015"},
		{`2E3`, "2000"},
		{`null`, ""},
	}
	for _, tt := range tests {
		var d Decimal
		if err := json.Unmarshal([]byte(tt.json), &d); err != nil || d != tt.want {
			t.Errorf("unmarshal %s = %q, %v; want %q", tt.json, d, err, tt.want)
		}
	}
	for _, bad := range []string{`{}`, `[1]`, `true`} {
		var d Decimal
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("unmarshal %s = %q, want an error", bad, d)
		}
	}
	if n, err := Decimal("0.15").Minor(2); err != nil || n != 15 {
		t.Errorf("Decimal(0.15).Minor(2) = %d, %v", n, err)
	}
}

func TestIsPositiveDecimal(t *testing.T) {
	for s, want := range map[string]bool{
		"4.99": true, "1": true, "0.01": true,
		"0": false, "0.00": false, "": false, "-1": false, "1.": false, "abc": false, "1e2": false,
	} {
		if got := isPositiveDecimal(s); got != want {
			t.Errorf("isPositiveDecimal(%q) = %v, want %v", s, got, want)
		}
	}
}
