package i18n

import "strings"

// Languages lists the languages the catalogue holds, English (the fallback)
// first.
func Languages() []string {
	return []string{"en", "ru"}
}

// Normalize maps a language code, such as Telegram's user.language_code or a
// stored preference, to one of Languages: "ru", "ru-RU" and "RU_ru" give
// "ru"; anything else, including "", gives "en".
func Normalize(code string) string {
	primary, _, _ := strings.Cut(strings.TrimSpace(code), "-")
	primary, _, _ = strings.Cut(primary, "_")
	primary = strings.ToLower(primary)
	for _, l := range Languages() {
		if primary == l {
			return l
		}
	}
	return "en"
}
