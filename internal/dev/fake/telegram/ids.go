package telegram

import (
	"encoding/base64"
	"math/rand/v2"
	"strconv"
)

// Identifiers only need to be unique and opaque, not secret.

func randomToken(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// newQueryID makes a callback or pre-checkout query id; Telegram's are
// large decimal numbers sent as strings.
func newQueryID() string {
	return strconv.FormatUint(rand.Uint64()>>1, 10)
}

// newFileID makes a photo file_id and its file_unique_id in the shape
// Telegram uses.
func newFileID() (id, unique string) {
	return "AgACAgIAAxkBAAI" + randomToken(48), "AQAD" + randomToken(9)
}

// newChargeID makes a Telegram Stars telegram_payment_charge_id.
func newChargeID() string {
	return "stxsbx" + randomToken(30)
}
