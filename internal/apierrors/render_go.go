package apierrors

import (
	"bytes"
	"fmt"
	"go/format"
	"net/http"
	"strings"
)

// serverGo renders the errorCode values of package httpapi.
func serverGo(codes []Code) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code %s; DO NOT EDIT.\n\npackage httpapi\n\nimport \"net/http\"\n\n", generatedBy)
	b.WriteString("// The codes this API answers with (docs/errors.md).\nvar (\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "\t%s = errorCode{http.%s, %d, %q}\n", c.Server, statusName(c.Status), c.Number, c.Name)
	}
	b.WriteString(")\n")
	return gofmt(b.Bytes())
}

// sdkGo renders the Code* constants and the Err* sentinels of package
// activator.
func sdkGo(codes []Code) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code %s; DO NOT EDIT.\n\npackage activator\n\n", generatedBy)
	b.WriteString("// The codes of the API. 1512 and 37xx are the seed's\n" +
		"// ThingSmartActivatorDiscoveryError codes; 40xx to 45xx and 50xx are nbpair's own.\n" +
		"// CodeNetwork is the SDK's own.\nconst (\n")
	for _, c := range codes {
		for _, line := range wrap("Code"+c.SDK+": "+c.Doc, 67) {
			fmt.Fprintf(&b, "\t// %s\n", line)
		}
		fmt.Fprintf(&b, "\tCode%s = %d\n", c.SDK, c.Number)
	}
	b.WriteString(")\n\n// Sentinels for errors.Is: each matches any *Error with its Code, whatever\n" +
		"// the Name, Message and HTTPStatus.\nvar (\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "\tErr%s = &Error{Code: Code%s, Name: %q}\n", c.SDK, c.SDK, c.Name)
	}
	b.WriteString(")\n")
	return gofmt(b.Bytes())
}

// statusName is the name of net/http's constant for an HTTP status, such
// as StatusRequestEntityTooLarge for 413.
func statusName(status int) string {
	return "Status" + strings.NewReplacer(" ", "", "-", "", "'", "").Replace(http.StatusText(status))
}

// wrap breaks text into lines of at most width bytes, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) > width:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	return append(lines, line)
}

// gofmt formats generated Go source.
func gofmt(src []byte) ([]byte, error) {
	out, err := format.Source(src)
	if err != nil {
		return nil, fmt.Errorf("formatting generated Go: %w", err)
	}
	return out, nil
}
