package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bodies to the JSON decoder of every request
// type: it must accept or answer with one of the documented codes, never
// panic and never report an internal error.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{`{"imei":"868000000000001"}`, `{"type":"NB","nbId":"x","spaceId":"h","timeout":120}`,
		`{"username":"a","password":"b"}`, `{}`, `[]`, `null`, `{"code":1}`, `{"a":1}{"b":2}`, ``, `{"name":"\u0000"}`} {
		f.Add(seed)
	}
	targets := []func() any{
		func() any { return new(provisionRequest) }, func() any { return new(createProductRequest) },
		func() any { return new(credentials) }, func() any { return new(homeRequest) },
		func() any { return new(activationRequest) }, func() any { return new(parseRequest) },
		func() any { return new(renameRequest) },
	}
	allowed := map[int]bool{3721: true, 3724: true, 4013: true}
	f.Fuzz(func(t *testing.T, body string) {
		for _, target := range targets {
			r := httptest.NewRequest("POST", "/", strings.NewReader(body))
			r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, maxBody)
			err := decode(r, target())
			if err == nil {
				continue
			}
			var ae *Error
			if !errors.As(err, &ae) || !allowed[ae.Code] || ae.Message == "" {
				t.Fatalf("body %q: %v", body, err)
			}
		}
	})
}
