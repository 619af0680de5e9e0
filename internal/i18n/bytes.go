package i18n

import "strconv"

// FormatBytes writes a traffic amount with binary units and one decimal
// where it helps: "512 B", "1.5 GB", "1,5 ГБ". Integer arithmetic only;
// negative amounts are shown as zero.
func FormatBytes(lang string, n int64) string {
	ru := Normalize(lang) == "ru"
	units := []string{"B", "KB", "MB", "GB", "TB", "PB", "EB"}
	decSep := "."
	if ru {
		units = []string{"Б", "КБ", "МБ", "ГБ", "ТБ", "ПБ", "ЭБ"}
		decSep = ","
	}
	if n < 1024 {
		return strconv.FormatInt(max(n, 0), 10) + nbsp + units[0]
	}
	// Find the largest unit not above n, then round to tenths of it.
	i := 0
	for i+1 < len(units) && n>>(10*(i+1)) >= 1 {
		i++
	}
	whole := uint64(n) >> (10 * i)
	rem := uint64(n) - whole<<(10*i)
	tenths := (rem*10 + 1<<(10*i)/2) >> (10 * i) // rounded
	if whole >= 100 {
		// Three digits are precise enough; round to a whole unit.
		if tenths >= 5 {
			whole++
		}
		tenths = 0
	}
	if tenths == 10 {
		whole, tenths = whole+1, 0
	}
	if whole == 1024 && i+1 < len(units) {
		whole, i = 1, i+1
	}
	s := strconv.FormatUint(whole, 10)
	if tenths > 0 {
		s += decSep + strconv.FormatUint(tenths, 10)
	}
	return s + nbsp + units[i]
}
