package apierrors

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// root is the repository root, seen from this package's directory.
const root = "../.."

// Every file generated from the table is as the generator writes it: the
// check CI runs, so that nobody edits a generated file by hand or forgets
// to run the generator after editing the table.
func TestGeneratedFilesAreFresh(t *testing.T) {
	files, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		disk, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Errorf("%s: %v; run go generate ./... from the repository root", f.Path, err)
			continue
		}
		if !bytes.Equal(disk, f.Data) {
			t.Errorf("%s is stale (first difference on line %d); run go generate ./... from the repository root",
				f.Path, firstDiffLine(disk, f.Data))
		}
	}
}

// Generating again from generated files changes nothing.
func TestGenerateIsIdempotent(t *testing.T) {
	tmp := t.TempDir()
	first, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range first {
		path := filepath.Join(tmp, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	second, err := Generate(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range second {
		if !bytes.Equal(f.Data, first[i].Data) {
			t.Errorf("%s changes when generated again (line %d)", f.Path, firstDiffLine(first[i].Data, f.Data))
		}
	}
}

// firstDiffLine is the number of the first line where a and b differ.
func firstDiffLine(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}
