package conf

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expectations of the golden files")

const expectMarker = "---- expect ----\n"

// TestGolden loads every testdata/golden/*.conf and compares Dump's output
// (or the error) with the expectation after the marker line. Lines at the
// top of a case starting with "#!" set load options:
//
//	#! lenient
//	#! g: daemon off;
//
// Absolute paths of the test directory are shown as $DIR so that the
// expectations do not depend on where the repository is checked out.
func TestGolden(t *testing.T) {
	dir, err := filepath.Abs("testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".conf"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			src, want, found := strings.Cut(string(data), expectMarker)
			if !found && !*update {
				t.Fatalf("no %q line", strings.TrimSpace(expectMarker))
			}
			opts := LoadOptions{File: file, Prefix: dir, Source: []byte(src)}
			for _, line := range strings.Split(src, "\n") {
				rest, ok := strings.CutPrefix(line, "#! ")
				if !ok {
					continue
				}
				switch {
				case rest == "lenient":
					opts.Lenient = true
				case strings.HasPrefix(rest, "g: "):
					opts.Directives = strings.TrimPrefix(rest, "g: ")
				}
			}
			var got string
			cfg, err := Load(opts)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Errorf("error is %T, not *Error", err)
				}
				got = "error: " + err.Error() + "\n"
			} else {
				got = Dump(cfg)
			}
			got = strings.ReplaceAll(got, dir, "$DIR")
			if *update {
				if err := os.WriteFile(file, []byte(src+expectMarker+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("%s: output differs\n--- got:\n%s--- want:\n%s", filepath.Base(file), got, want)
			}
		})
	}
}
