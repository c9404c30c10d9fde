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

func FuzzNbIDFromLabel(f *testing.F) {
	f.Add("https://pair.example.com/nb/0123456789abcdef0123456789abcdef")
	f.Add("https://pair.example.com/nb/%30123456789abcdef0123456789abcdef")
	f.Add("https://pair.example.com:443/nb/0123456789abcdef0123456789abcdef")
	f.Add("WIFI:S:x;;")
	s := labelService()
	f.Fuzz(func(t *testing.T, code string) {
		id, err := s.nbIDFromLabel(code)
		if err != nil {
			if id != "" {
				t.Fatalf("an error with a result %q", id)
			}
			if !errors.Is(err, ErrBlank) && !errors.Is(err, ErrQRTooLong) && !errors.Is(err, ErrQRNotRecognised) {
				t.Fatalf("an error outside the documented ones: %v", err)
			}
			return
		}
		if !ValidNbID(id) || strings.ToLower(id) != id {
			t.Fatalf("accepted %q as nbId %q", code, id)
		}
		if !strings.Contains(strings.ToLower(code), id) && !strings.Contains(strings.ToLower(code), "%") {
			t.Fatalf("the nbId %q is not in the code %q", id, code)
		}
	})
}
