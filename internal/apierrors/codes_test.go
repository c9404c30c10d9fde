package apierrors

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every code of the table is in every checked-in file a user or client
// programmer reads: its row in docs/errors.md with its name and status, the
// server's errorCode, the SDK's constant and sentinel with its name, the
// web app's words, and the OpenAPI enums and description row.
func TestEveryCodeInEveryFile(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	docs, server, sdk, web, spec := read(DocsFile), read(ServerFile), read(SDKFile), read(WebFile), read(OpenAPIFile)
	var numbers []int
	var names []string
	if err := lookup([]byte(spec), codeEnumPath, &numbers); err != nil {
		t.Fatal(err)
	}
	if err := lookup([]byte(spec), nameEnumPath, &names); err != nil {
		t.Fatal(err)
	}
	codeEnum := " " + strings.Trim(fmt.Sprint(numbers), "[]") + " "
	nameEnum := " " + strings.Join(names, " ") + " "
	if len(numbers) != len(Codes) || len(names) != len(Codes) {
		t.Errorf("%s lists %d codes and %d names; the table has %d", OpenAPIFile, len(numbers), len(names), len(Codes))
	}
	for _, c := range Codes {
		for _, want := range []struct{ file, text, line string }{
			{DocsFile, docs, fmt.Sprintf("\n| %d | %s | %s |", c.Number, c.Name, docsStatus(c))},
			{ServerFile, server, fmt.Sprintf(" = errorCode{http.%s, %d, %q}\n", statusName(c.Status), c.Number, c.Name)},
			{SDKFile, sdk, fmt.Sprintf("\tCode%s = %d\n", c.SDK, c.Number)},
			{SDKFile, sdk, fmt.Sprintf(" = &Error{Code: Code%s, Name: %q}\n", c.SDK, c.Name)},
			{WebFile, web, fmt.Sprintf("\n  %d: [", c.Number)},
			{OpenAPIFile, spec, fmt.Sprintf("\\n| %d | %s | %d |", c.Number, c.Name, c.Status)},
			{OpenAPIFile + " code enum", codeEnum, fmt.Sprintf(" %d ", c.Number)},
			{OpenAPIFile + " name enum", nameEnum, fmt.Sprintf(" %s ", c.Name)},
		} {
			if !strings.Contains(want.text, want.line) {
				t.Errorf("%s lacks %q; run go generate ./... from the repository root", want.file, strings.TrimSpace(want.line))
			}
		}
	}
}

// The generator refuses a table it cannot render faithfully.
func TestCheckRefusesBadTables(t *testing.T) {
	good := Codes[:2]
	if err := check(good); err != nil {
		t.Fatalf("check(first two codes): %v", err)
	}
	for name, edit := range map[string]func(c *Code){
		"a number out of order": func(c *Code) { c.Number = good[0].Number },
		"a name twice":          func(c *Code) { c.Name = good[0].Name },
		"an SDK name twice":     func(c *Code) { c.SDK = good[0].SDK },
		"a status not an error": func(c *Code) { c.Status = 200 },
		"an exported server":    func(c *Code) { c.Server = "CodeX" },
		"no web words":          func(c *Code) { c.Advice = " " },
		"a line break":          func(c *Code) { c.When += "\nmore" },
		"a bare | in When":      func(c *Code) { c.When += " a | b" },
	} {
		bad := append([]Code{}, good...)
		edit(&bad[1])
		if err := check(bad); err == nil {
			t.Errorf("check accepts a table with %s", name)
		}
	}
}
