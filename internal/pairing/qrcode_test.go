package pairing

import (
	"errors"
	"strings"
	"testing"
)

func labelService() *Service {
	return &Service{opts: Options{PublicURL: "https://pair.example.com"}}
}

func TestNbIDFromLabel(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	tests := map[string]struct {
		code string
		want string
		err  error
	}{
		"label":                   {code: "https://pair.example.com/nb/" + id, want: id},
		"upper-case hex":          {code: "https://pair.example.com/nb/" + strings.ToUpper(id), want: id},
		"trailing slash":          {code: "https://pair.example.com/nb/" + id + "/", want: id},
		"host in capitals":        {code: "https://PAIR.example.com/nb/" + id, want: id},
		"spaces around":           {code: "  https://pair.example.com/nb/" + id + "\n", want: id},
		"empty":                   {code: "", err: ErrBlank},
		"blank":                   {code: " \t", err: ErrBlank},
		"too long":                {code: strings.Repeat("x", MaxQRText+1), err: ErrQRTooLong},
		"not a URL":               {code: "hello", err: ErrQRNotRecognised},
		"wifi code":               {code: "WIFI:S:home;T:WPA;P:pw;;", err: ErrQRNotRecognised},
		"other host":              {code: "https://evil.example.com/nb/" + id, err: ErrQRNotRecognised},
		"other scheme":            {code: "http://pair.example.com/nb/" + id, err: ErrQRNotRecognised},
		"short id":                {code: "https://pair.example.com/nb/abc", err: ErrQRNotRecognised},
		"extra path":              {code: "https://pair.example.com/nb/" + id + "/x", err: ErrQRNotRecognised},
		"other path":              {code: "https://pair.example.com/x/" + id, err: ErrQRNotRecognised},
		"IMEI instead of nbId":    {code: "https://pair.example.com/nb/868000000000001", err: ErrQRNotRecognised},
		"short code":              {code: ShortCode(id), want: id},
		"short code, lower case":  {code: strings.ToLower(ShortCode(id)), want: id},
		"short code, no dashes":   {code: strings.ReplaceAll(ShortCode(id), "-", ""), want: id},
		"short code, spaces":      {code: strings.ReplaceAll(ShortCode(id), "-", " "), want: id},
		"short code, O for 0":     {code: strings.ReplaceAll(ShortCode(id), "0", "O"), want: id},
		"short code, mistyped":    {code: mistype(ShortCode(id)), err: ErrQRNotRecognised},
		"short code, cut short":   {code: ShortCode(id)[:ShortCodeLen-1], err: ErrQRNotRecognised},
		"bare nbId":               {code: id, want: id},
		"IMEI":                    {code: "868000000000033", err: ErrQRIsIMEI},
		"IMEI in groups":          {code: "86 800000 000003 3", err: ErrQRIsIMEI},
		"non-hex of right length": {code: "https://pair.example.com/nb/" + strings.Repeat("z", 32), err: ErrQRNotRecognised},
	}
	s := labelService()
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := s.nbIDFromLabel(tt.code)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Errorf("got %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

// mistype changes one symbol of a short code to the next of the alphabet.
func mistype(code string) string {
	i := strings.IndexFunc(code, func(r rune) bool { return r != '-' })
	b := []byte(code)
	b[i] = crockford[(strings.IndexByte(crockford, b[i])+1)%len(crockford)]
	return string(b)
}

// Every nbId has a short code of one shape that reads back to it; every
// single mistyped symbol of it is caught by the check.
func TestShortCodeRoundTrip(t *testing.T) {
	s := labelService()
	caught, typos := 0, 0
	for range 200 {
		id := newNbID()
		code := ShortCode(id)
		if len(code) != ShortCodeLen || strings.Count(code, "-") != 6 {
			t.Fatalf("ShortCode(%s) = %q", id, code)
		}
		got, err := s.nbIDFromLabel(code)
		if err != nil || got != id {
			t.Fatalf("%q read back as %q, %v; want %s", code, got, err, id)
		}
		for i := range len(code) {
			if code[i] == '-' {
				continue
			}
			b := []byte(code)
			b[i] = crockford[(strings.IndexByte(crockford, b[i])+7)%len(crockford)]
			typos++
			if _, err := s.nbIDFromLabel(string(b)); errors.Is(err, ErrQRNotRecognised) {
				caught++
			}
		}
	}
	// The check is 12 bits: about one typo in 4,096 slips through.
	if caught < typos-5 {
		t.Errorf("the check caught %d of %d mistyped symbols", caught, typos)
	}
	for _, bad := range []string{"", "0123", strings.Repeat("z", 31)} {
		if ShortCode(bad) != "" {
			t.Errorf("ShortCode(%q) = %q, want empty", bad, ShortCode(bad))
		}
	}
}

func FuzzShortCode(f *testing.F) {
	f.Add("0J2P-6KYF-4XDV-0000-0000-0000-0000")
	f.Add(ShortCode("0123456789abcdef0123456789abcdef"))
	f.Add("oooo iiii llll uuuu")
	f.Fuzz(func(t *testing.T, code string) {
		id, ok, err := nbIDFromShortCode(code)
		switch {
		case !ok && (id != "" || err != nil):
			t.Fatalf("not a short code, yet %q, %v", id, err)
		case err != nil && !errors.Is(err, errShortCodeCheck):
			t.Fatalf("an error outside the documented one: %v", err)
		case ok && err == nil:
			if !ValidNbID(id) {
				t.Fatalf("%q decoded to %q", code, id)
			}
			// The canonical code of what was read is what was typed, normalized.
			want, _ := normalizeShortCode(code)
			if got, _ := normalizeShortCode(ShortCode(id)); got != want {
				t.Fatalf("%q read as %s, whose code is %s", code, id, ShortCode(id))
			}
		}
	})
}

func FuzzNbIDFromLabel(f *testing.F) {
	f.Add("https://pair.example.com/nb/0123456789abcdef0123456789abcdef")
	f.Add("https://pair.example.com/nb/%30123456789abcdef0123456789abcdef")
	f.Add("https://pair.example.com:443/nb/0123456789abcdef0123456789abcdef")
	f.Add("WIFI:S:x;;")
	f.Add("868000000000033")
	f.Add(ShortCode("0123456789abcdef0123456789abcdef"))
	s := labelService()
	f.Fuzz(func(t *testing.T, code string) {
		id, err := s.nbIDFromLabel(code)
		if err != nil {
			if id != "" {
				t.Fatalf("an error with a result %q", id)
			}
			if !errors.Is(err, ErrBlank) && !errors.Is(err, ErrQRTooLong) && !errors.Is(err, ErrQRNotRecognised) && !errors.Is(err, ErrQRIsIMEI) {
				t.Fatalf("an error outside the documented ones: %v", err)
			}
			return
		}
		if !ValidNbID(id) || strings.ToLower(id) != id {
			t.Fatalf("accepted %q as nbId %q", code, id)
		}
		if _, short, _ := nbIDFromShortCode(strings.TrimSpace(code)); short {
			return // a short code; FuzzShortCode checks those
		}
		if !strings.Contains(strings.ToLower(code), id) && !strings.Contains(strings.ToLower(code), "%") {
			t.Fatalf("the nbId %q is not in the code %q", id, code)
		}
	})
}
