package i18n

import "time"

// FormatDate writes an instant in UTC, to the minute, with the zone spelled
// out so no reader guesses: "2026-12-01 14:00 UTC" in English (ISO order,
// which neither US nor UK readers misread), "01.12.2026 14:00 UTC" in
// Russian.
func FormatDate(lang string, t time.Time) string {
	if Normalize(lang) == "ru" {
		return t.UTC().Format("02.01.2006 15:04 UTC")
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
