package wire

import (
	"strconv"
	"strings"
)

// maxRootFormats bounds how many content formats RootContentFormat keeps.
const maxRootFormats = 4

// RootContentFormat returns the content formats a client announced as its
// preference with ct on its root link in a Register payload
// (</>;rt="oma.lwm2m";ct=110, LwM2M 1.1 Transport 6.2.1), as decimal numbers
// separated by spaces, "" when it announced none. It keeps at most four and
// skips values that are not numbers 0..65535.
func RootContentFormat(links []Link) string {
	for _, l := range links {
		rt, _ := l.Param("rt")
		if l.Target != "/" && rt != "oma.lwm2m" {
			continue
		}
		ct, ok := l.Param("ct")
		if !ok {
			return ""
		}
		var b []byte
		for i, f := range ContentFormats(ct) {
			if i > 0 {
				b = append(b, ' ')
			}
			b = strconv.AppendInt(b, int64(f), 10)
		}
		return string(b)
	}
	return ""
}

// ContentFormats parses what RootContentFormat returned (or a ct value)
// into numbers: at most four, skipping what is not a number 0..65535.
func ContentFormats(s string) []int {
	var out []int
	for _, f := range strings.Fields(s) {
		if n, err := strconv.ParseUint(f, 10, 16); err == nil && len(out) < maxRootFormats {
			out = append(out, int(n))
		}
	}
	return out
}
