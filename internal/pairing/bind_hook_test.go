package pairing

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzClipReason: whatever a pre-bind hook answers as its reason, what the
// user is shown is valid UTF-8, at most MaxHookReason bytes, one line
// without control or format characters.
func FuzzClipReason(f *testing.F) {
	for _, s := range []string{"", "Sold in the EU only", "a\x00b\nc\u202ed", strings.Repeat("é", 300), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := clipReason(in)
		if !utf8.ValidString(out) || len(out) > MaxHookReason {
			t.Fatalf("clipReason(%q) = %q: not UTF-8 or %d bytes", in, out, len(out))
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("clipReason(%q) = %q holds %U", in, out, r)
			}
		}
		if len(in) <= 100 && utf8.ValidString(in) && !strings.ContainsFunc(in, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) &&
			out != strings.Join(strings.Fields(in), " ") {
			t.Fatalf("clipReason(%q) = %q, want it as it was (spaces folded)", in, out)
		}
	})
}
