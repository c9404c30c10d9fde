package httpapi

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestErrorCodesInDocsAndSDK holds docs/errors.md and the SDK's constants
// (package activator) to the code table of errors.go: every code has its
// row in the docs with its name and status, and a constant and a sentinel
// in the SDK with its name.
func TestErrorCodesInDocsAndSDK(t *testing.T) {
	src, err := os.ReadFile("errors.go")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := os.ReadFile("../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	sdk, err := os.ReadFile("../../activator/errors.go")
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int{}
	for code := 100; code < 600; code++ {
		statuses["Status"+strings.ReplaceAll(http.StatusText(code), " ", "")] = code
	}
	rows := regexp.MustCompile(`errorCode\{http\.(\w+), (\d+), "(\w+)"\}`).FindAllStringSubmatch(string(src), -1)
	if len(rows) < 10 {
		t.Fatalf("found %d rows of the code table in errors.go; has its form changed?", len(rows))
	}
	for _, row := range rows {
		status, code, name := statuses[row[1]], row[2], row[3]
		docRow := regexp.MustCompile(fmt.Sprintf(`(?m)^\| %s \| %s \| (%d|\(activation outcome\)) \|`, code, name, status))
		if !docRow.Match(docs) {
			t.Errorf("docs/errors.md has no row | %s | %s | %d |", code, name, status)
		}
		constant := regexp.MustCompile(fmt.Sprintf(`(?m)^\s+(Code\w+) = %s$`, code)).FindSubmatch(sdk)
		if constant == nil {
			t.Errorf("activator/errors.go has no Code constant = %s (%s)", code, name)
			continue
		}
		sentinel := fmt.Sprintf(`&Error{Code: %s, Name: "%s"}`, constant[1], name)
		if !strings.Contains(string(sdk), sentinel) {
			t.Errorf("activator/errors.go has no sentinel %s", sentinel)
		}
	}
}
