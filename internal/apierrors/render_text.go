package apierrors

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The lines around the generated part of docs/errors.md and of the web
// app's errors.js.
var (
	docsBegin = "<!-- BEGIN " + generatedBy + "; DO NOT EDIT. -->\n"
	docsEnd   = "<!-- END generated -->\n"
	webBegin  = "  // BEGIN " + generatedBy + "; DO NOT EDIT.\n"
	webEnd    = "  // END generated\n"
)

// docsMD renders the code table of docs/errors.md.
func docsMD(old []byte, codes []Code) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("| code | name | HTTP | when |\n|---|---|---|---|\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", c.Number, c.Name, docsStatus(c), c.When)
	}
	return splice(old, docsBegin, docsEnd, b.Bytes())
}

// docsStatus is the HTTP column of docs/errors.md.
func docsStatus(c Code) string {
	switch c.Outcome {
	case OutcomeOnly:
		return "(activation outcome)"
	case OutcomeAlso:
		return strconv.Itoa(c.Status) + ", activation outcome"
	}
	return strconv.Itoa(c.Status)
}

// webJS renders the web app's words for each code, entries of the words
// object of errors.js.
func webJS(old []byte, codes []Code) ([]byte, error) {
	var b bytes.Buffer
	for _, c := range codes {
		fmt.Fprintf(&b, "  %d: [%s, %s],\n", c.Number, jsString(c.Title), jsString(c.Advice))
	}
	return splice(old, webBegin, webEnd, b.Bytes())
}

// jsString quotes s as a JavaScript string in single quotes.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// openAPIRow is a row of the table in the OpenAPI Error schema's
// description: the docs' words as sentences, saying which codes only an
// activation's outcome carries.
func openAPIRow(c Code) string {
	when := c.When
	if r, n := utf8.DecodeRuneInString(when); unicode.IsLower(r) {
		when = string(unicode.ToUpper(r)) + when[n:]
	}
	when += "."
	switch c.Outcome {
	case OutcomeOnly:
		when += " Only in an activation's `error`; no request answers with it."
	case OutcomeAlso:
		when += " Also in an activation's `error`."
	}
	return fmt.Sprintf("| %d | %s | %d | %s |\n", c.Number, c.Name, c.Status, when)
}

// splice replaces what lies between the lines begin and end of doc.
func splice(doc []byte, begin, end string, part []byte) ([]byte, error) {
	i := bytes.Index(doc, []byte(begin))
	j := bytes.Index(doc, []byte(end))
	if i < 0 || j < i || (i > 0 && doc[i-1] != '\n') || doc[j-1] != '\n' {
		return nil, fmt.Errorf("no lines %q and %q, in this order, around the generated part", strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	out := append([]byte{}, doc[:i+len(begin)]...)
	out = append(out, part...)
	return append(out, doc[j:]...), nil
}
