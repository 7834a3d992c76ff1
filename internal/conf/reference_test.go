package conf

import (
	"os"
	"strings"
	"testing"
)

// referencePath is the configuration reference generated from the
// directive table; the test keeps it in step (go test -update rewrites it).
const referencePath = "../../docs/directives.md"

// Reference renders the directive table as the markdown reference.
func reference() string {
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("Generated from the directive table in internal/conf by its tests\n")
	b.WriteString("(`go test ./internal/conf -update`); every nginx directive follows nginx's\n")
	b.WriteString("semantics and defaults, and those that are headroom's own say so. A real\n")
	b.WriteString("nginx directive that is not listed here is an error that names it.\n\n")
	b.WriteString("| directive | syntax | default | contexts | |\n|---|---|---|---|---|\n")
	esc := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	for _, d := range Directives() {
		def := d.Default
		if def == "" {
			def = "—"
		}
		b.WriteString("| `" + d.Name + "` | `" + esc(d.Syntax) + "` | " + esc(def) + " | " + strings.Join(d.Contexts, ", ") + " | " + esc(d.Doc) + " |\n")
	}
	return b.String()
}

func TestReferenceIsCurrent(t *testing.T) {
	want := reference()
	if *update {
		if err := os.WriteFile(referencePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/conf -update)", err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date with the directive table; run go test ./internal/conf -update", referencePath)
	}
}
