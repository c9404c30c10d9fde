package apierrors

import (
	"fmt"
	"go/token"
	"net/http"
	"strings"
)

// check refuses a table the generated files could not be made from: a
// number, name or Go name twice, numbers out of order, an unknown HTTP
// status, a Go name that is not an identifier, a missing text, a text
// that would break a table row.
func check(codes []Code) error {
	seen := map[string]int{}
	prev := 0
	for _, c := range codes {
		if c.Number <= prev {
			return fmt.Errorf("apierrors: code %d: the codes must be in increasing order", c.Number)
		}
		prev = c.Number
		for _, key := range []string{"name " + c.Name, "server " + c.Server, "sdk " + c.SDK} {
			if n, dup := seen[key]; dup {
				return fmt.Errorf("apierrors: codes %d and %d have the same %s", n, c.Number, key)
			}
			seen[key] = c.Number
		}
		if http.StatusText(c.Status) == "" || c.Status < 400 {
			return fmt.Errorf("apierrors: code %d: %d is not an HTTP error status", c.Number, c.Status)
		}
		if !token.IsIdentifier(c.Server) || token.IsExported(c.Server) || !token.IsIdentifier("Code"+c.SDK) {
			return fmt.Errorf("apierrors: code %d: Server %q or SDK %q is not a Go name of the right kind", c.Number, c.Server, c.SDK)
		}
		if !token.IsIdentifier(c.Name) {
			return fmt.Errorf("apierrors: code %d: name %q is not one word", c.Number, c.Name)
		}
		for _, text := range []string{c.When, c.Doc, c.Title, c.Advice} {
			if strings.TrimSpace(text) == "" {
				return fmt.Errorf("apierrors: code %d lacks a text (When, Doc, Title and Advice are all needed)", c.Number)
			}
		}
		if strings.ContainsAny(c.When+c.Doc+c.Title+c.Advice, "\n\r") {
			return fmt.Errorf("apierrors: code %d: a text has a line break", c.Number)
		}
		if strings.Contains(strings.ReplaceAll(c.When, `\|`, ""), "|") {
			return fmt.Errorf("apierrors: code %d: When has a | that would end its table cell; write \\|", c.Number)
		}
	}
	return nil
}
