package callback

import (
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, d := range everyAction {
		f.Add(MustEncode(d))
	}
	for _, s := range []string{"", "1", "1|", "2|menu", "1|topup|0", "1|topup|01", "1|pay|1m|x|y", "1|auto|on|on", "1|setlang|zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrStale) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) error %v is neither stale nor malformed", s, err)
			}
			return
		}
		enc, err := Encode(d)
		if err != nil {
			t.Fatalf("Parse(%q) accepted %+v but Encode fails: %v", s, d, err)
		}
		if enc != s {
			t.Fatalf("Parse(%q) = %+v re-encodes as %q", s, d, enc)
		}
	})
}
