package deploytest

import (
	"regexp"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"vpnflow/internal/shop"
)

// cliType is the --type the temporal CLI takes for each value type.
var cliType = map[enumspb.IndexedValueType]string{
	enumspb.INDEXED_VALUE_TYPE_TEXT:         "Text",
	enumspb.INDEXED_VALUE_TYPE_KEYWORD:      "Keyword",
	enumspb.INDEXED_VALUE_TYPE_INT:          "Int",
	enumspb.INDEXED_VALUE_TYPE_DOUBLE:       "Double",
	enumspb.INDEXED_VALUE_TYPE_BOOL:         "Bool",
	enumspb.INDEXED_VALUE_TYPE_DATETIME:     "Datetime",
	enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST: "KeywordList",
}

var scriptAttr = regexp.MustCompile(`(?m)^\s+([A-Za-z][A-Za-z0-9_]*):([A-Za-z]+)\b`)

func TestSetupRegistersEverySearchAttribute(t *testing.T) {
	script := readFile(t, "deploy/temporal/setup-namespace.sh")
	registered := map[string]string{}
	for _, m := range scriptAttr.FindAllStringSubmatch(script, -1) {
		registered[m[1]] = m[2]
	}
	want := map[string]string{}
	for key := range shop.AllSearchAttributes().GetUntypedValues() {
		typ, ok := cliType[key.GetValueType()]
		if !ok {
			t.Fatalf("search attribute %s has type %v, unknown to this test", key.GetName(), key.GetValueType())
		}
		want[key.GetName()] = typ
	}
	for name, typ := range want {
		if got, ok := registered[name]; !ok {
			t.Errorf("deploy/temporal/setup-namespace.sh does not register %s", name)
		} else if got != typ {
			t.Errorf("deploy/temporal/setup-namespace.sh registers %s as %s, internal/shop (searchattr.go) uses %s", name, got, typ)
		}
	}
	for name := range registered {
		if _, ok := want[name]; !ok {
			t.Errorf("deploy/temporal/setup-namespace.sh registers %s, which internal/shop (searchattr.go) does not define", name)
		}
	}
}
