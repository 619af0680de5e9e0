package i18n

import (
	"math"
	"testing"
	"time"
)

func TestFormatMoney(t *testing.T) {
	tests := []struct {
		lang     string
		minor    int64
		currency string
		want     string
	}{
		{"en", 300, "USD", "$3.00"},
		{"ru", 300, "USD", "3,00\u00a0$"},
		{"en", 5, "usd", "$0.05"},
		{"en", 0, "USD", "$0.00"},
		{"en", 123456789, "USD", "$1,234,567.89"},
		{"ru", 123456789, "USD", "1\u00a0234\u00a0567,89\u00a0$"},
		{"en", -250, "EUR", "-€2.50"},
		{"ru", -250, "EUR", "-2,50\u00a0€"},
		{"en", 30000, "RUB", "300.00\u00a0₽"},
		{"en", 150, "XTR", "150\u00a0⭐"},
		{"ru", 1500, "XTR", "1\u00a0500\u00a0⭐"},
		{"en", 300, "USDT", "3.00\u00a0USDT"},
		{"de", 300, "GBP", "£3.00"},
		{"en", 300, "", "3.00"},
		{"en", math.MinInt64, "USD", "-$92,233,720,368,547,758.08"},
		{"en", math.MaxInt64, "XTR", "9,223,372,036,854,775,807\u00a0⭐"},
	}
	for _, tt := range tests {
		if got := FormatMoney(tt.lang, tt.minor, tt.currency); got != tt.want {
			t.Errorf("FormatMoney(%q, %d, %q) = %q, want %q", tt.lang, tt.minor, tt.currency, got, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		d      time.Duration
		en, ru string
	}{
		{72 * time.Hour, "3 days", "3 дня"},
		{day, "1 day", "1 день"},
		{5 * day, "5 days", "5 дней"},
		{11 * day, "11 days", "11 дней"},
		{21 * day, "21 days", "21 день"},
		{22 * day, "22 days", "22 дня"},
		{30 * day, "30 days", "30 дней"},
		{365 * day, "365 days", "365 дней"},
		{time.Hour, "1 hour", "1 час"},
		{2 * time.Hour, "2 hours", "2 часа"},
		{36 * time.Hour, "1 day 12 hours", "1 день 12 часов"},
		{90 * time.Minute, "1 hour 30 minutes", "1 час 30 минут"},
		{time.Minute, "1 minute", "1 минуту"},
		{3 * time.Minute, "3 minutes", "3 минуты"},
		{71*time.Hour + 59*time.Minute + 58*time.Second, "3 days", "3 дня"},
		{23*time.Hour + 59*time.Minute + 40*time.Second, "1 day", "1 день"},
		{day + 25*time.Minute, "1 day", "1 день"},
		{day + 35*time.Minute, "1 day 1 hour", "1 день 1 час"},
		{29 * time.Second, "0 minutes", "0 минут"},
		{31 * time.Second, "1 minute", "1 минуту"},
		{-5 * time.Minute, "0 minutes", "0 минут"},
		{math.MaxInt64, "106751 days 23 hours", "106751 день 23 часа"},
	}
	for _, tt := range tests {
		if got := FormatDuration("en", tt.d); got != tt.en {
			t.Errorf("FormatDuration(en, %v) = %q, want %q", tt.d, got, tt.en)
		}
		if got := FormatDuration("ru", tt.d); got != tt.ru {
			t.Errorf("FormatDuration(ru, %v) = %q, want %q", tt.d, got, tt.ru)
		}
	}
}

func TestFormatDate(t *testing.T) {
	at := time.Date(2026, 12, 1, 17, 0, 59, 0, time.FixedZone("MSK", 3*3600))
	if got := FormatDate("en", at); got != "2026-12-01 14:00 UTC" {
		t.Errorf("FormatDate(en) = %q", got)
	}
	if got := FormatDate("ru", at); got != "01.12.2026 14:00 UTC" {
		t.Errorf("FormatDate(ru) = %q", got)
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n      int64
		en, ru string
	}{
		{-1, "0\u00a0B", "0\u00a0Б"},
		{0, "0\u00a0B", "0\u00a0Б"},
		{1023, "1023\u00a0B", "1023\u00a0Б"},
		{1024, "1\u00a0KB", "1\u00a0КБ"},
		{1536, "1.5\u00a0KB", "1,5\u00a0КБ"},
		{3 << 30, "3\u00a0GB", "3\u00a0ГБ"},
		{3<<30 + 300<<20, "3.3\u00a0GB", "3,3\u00a0ГБ"},
		{1<<20 - 1, "1\u00a0MB", "1\u00a0МБ"},
		{150<<30 + 700<<20, "151\u00a0GB", "151\u00a0ГБ"},
		{1<<40 - 1, "1\u00a0TB", "1\u00a0ТБ"},
		{math.MaxInt64, "8\u00a0EB", "8\u00a0ЭБ"},
	}
	for _, tt := range tests {
		if got := FormatBytes("en", tt.n); got != tt.en {
			t.Errorf("FormatBytes(en, %d) = %q, want %q", tt.n, got, tt.en)
		}
		if got := FormatBytes("ru", tt.n); got != tt.ru {
			t.Errorf("FormatBytes(ru, %d) = %q, want %q", tt.n, got, tt.ru)
		}
	}
}
