package i18n

import (
	"strconv"
	"strings"
)

// nbsp keeps an amount and its currency on one line.
const nbsp = "\u00a0"

// FormatMoney formats an amount in minor units without floating point:
// FormatMoney("en", 300, "USD") is "$3.00", in Russian "3,00 $";
// FormatMoney(lang, 150, "XTR") is "150 ⭐" (Telegram Stars have no minor
// unit). Currencies without a known symbol are written by code ("3.00 USDT")
// and assumed to have two decimal places.
func FormatMoney(lang string, minor int64, currency string) string {
	currency = strings.ToUpper(strings.TrimSpace(currency))
	symbol, prefix := currencySymbol(currency)
	digits := decimals(currency)

	// The magnitude as uint64, so that the most negative int64 works too.
	neg := minor < 0
	mag := uint64(minor)
	if neg {
		mag = uint64(^minor) + 1
	}
	var unit uint64 = 1
	for range digits {
		unit *= 10
	}

	ru := Normalize(lang) == "ru"
	groupSep, decSep := ",", "."
	if ru {
		groupSep, decSep = nbsp, ","
	}
	num := groupThousands(strconv.FormatUint(mag/unit, 10), groupSep)
	if digits > 0 {
		frac := strconv.FormatUint(mag%unit, 10)
		num += decSep + strings.Repeat("0", digits-len(frac)) + frac
	}

	sign := ""
	if neg {
		sign = "-"
	}
	switch {
	case currency == "":
		return sign + num
	case prefix && !ru:
		return sign + symbol + num
	default:
		return sign + num + nbsp + symbol
	}
}

// currencySymbol returns how to write a currency and whether English puts it
// before the number.
func currencySymbol(code string) (symbol string, prefix bool) {
	switch code {
	case "USD":
		return "$", true
	case "EUR":
		return "€", true
	case "GBP":
		return "£", true
	case "RUB":
		return "₽", false
	case "XTR":
		return "⭐", false
	}
	return code, false
}

func decimals(code string) int {
	switch code {
	case "XTR", "JPY", "KRW":
		return 0
	}
	return 2
}

func groupThousands(digits, sep string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	head := len(digits) % 3
	if head > 0 {
		b.WriteString(digits[:head])
	}
	for i := head; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}
