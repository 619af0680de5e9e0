package i18n

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// FormatDuration writes d in words with at most two units: "3 days",
// "1 day 12 hours", "1 hour 30 minutes", "3 дня", "1 час". It rounds to the
// smallest unit shown, so 71h59m58s is "3 days". Durations under a minute
// (and negative ones) are "0 minutes" or "1 minute" by rounding.
//
// Russian uses the accusative, which is what every template needs ("на 3
// дня", "через 1 минуту"); it differs from the nominative only in "минуту".
func FormatDuration(lang string, d time.Duration) string {
	lang = Normalize(lang)
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Minute)
	if d >= 24*time.Hour {
		d = d.Round(time.Hour)
	}
	days := int64(d / (24 * time.Hour))
	hours := int64(d % (24 * time.Hour) / time.Hour)
	minutes := int64(d % time.Hour / time.Minute)

	var parts []string
	add := func(n int64, u unit) {
		if n > 0 && len(parts) < 2 {
			parts = append(parts, strconv.FormatInt(n, 10)+" "+unitWord(lang, u, n))
		}
	}
	add(days, day)
	if days == 0 || hours > 0 {
		add(hours, hour)
	}
	if days == 0 {
		add(minutes, minute)
	}
	if len(parts) == 0 {
		return "0 " + unitWord(lang, minute, 0)
	}
	return strings.Join(parts, " ")
}

type unit int

const (
	day unit = iota
	hour
	minute
)

func unitWord(lang string, u unit, n int64) string {
	if lang == "ru" {
		// one, few, many: 1 день, 2 дня, 5 дней.
		words := [...][3]string{
			day:    {"день", "дня", "дней"},
			hour:   {"час", "часа", "часов"},
			minute: {"минуту", "минуты", "минут"},
		}[u]
		switch cardinal(language.Russian, n) {
		case plural.One:
			return words[0]
		case plural.Few:
			return words[1]
		default:
			return words[2]
		}
	}
	words := [...][2]string{
		day:    {"day", "days"},
		hour:   {"hour", "hours"},
		minute: {"minute", "minutes"},
	}[u]
	if cardinal(language.English, n) == plural.One {
		return words[0]
	}
	return words[1]
}

// cardinal is the CLDR plural form of a whole number.
func cardinal(tag language.Tag, n int64) plural.Form {
	// MatchPlural looks only at the low digits of large numbers, so
	// reducing modulo a million keeps the form and avoids int overflow.
	return plural.Cardinal.MatchPlural(tag, int(n%1_000_000), 0, 0, 0, 0)
}
