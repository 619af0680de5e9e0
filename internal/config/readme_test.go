package config

import (
	"os"
	"regexp"
	"testing"
)

// The README's table is the documentation of this package's contract; it
// must name every variable, with the default the code uses.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\| ([^|]*) \\|").FindAllStringSubmatch(string(readme), -1) {
		rows[m[1]] = m[2]
	}
	for _, v := range Vars() {
		got, ok := rows[v.Name]
		if !ok {
			t.Errorf("README's configuration table lacks %s", v.Name)
			continue
		}
		want := "—"
		if v.Default != "" {
			want = "`" + v.Default + "`"
		}
		if got != want {
			t.Errorf("README shows %s default %s, the code has %s", v.Name, got, want)
		}
		delete(rows, v.Name)
	}
	for name := range rows {
		t.Errorf("README documents %s, which the configuration does not read", name)
	}
}
