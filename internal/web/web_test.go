package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/web"
)

// The handler alone: what each path answers, with which type and headers.
func TestHandler(t *testing.T) {
	h := web.New()
	index := get(t, h, "/index.html")
	tests := []struct {
		name, path  string
		status      int
		contentType string
		isIndex     bool
	}{
		{"the app's page", "/", http.StatusOK, "text/html; charset=utf-8", true},
		{"a route of the app", "/homes/home_abc", http.StatusOK, "text/html; charset=utf-8", true},
		{"a label's link", "/nb/0123456789abcdef0123456789abcdef", http.StatusOK, "text/html; charset=utf-8", true},
		{"the admin area", "/admin/audit", http.StatusOK, "text/html; charset=utf-8", true},
		{"a script", "/app.js", http.StatusOK, "text/javascript; charset=utf-8", false},
		{"the styles", "/app.css", http.StatusOK, "text/css; charset=utf-8", false},
		{"the icon", "/icon.svg", http.StatusOK, "image/svg+xml", false},
		{"the manifest", "/manifest.webmanifest", http.StatusOK, "application/manifest+json", false},
		{"a missing file", "/nothing.js", http.StatusNotFound, "text/plain; charset=utf-8", false},
		{"a missing file in a folder", "/homes/x/favicon.ico", http.StatusNotFound, "text/plain; charset=utf-8", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(t, h, tc.path)
			if rec.Code != tc.status {
				t.Fatalf("GET %s: %d, want %d", tc.path, rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != tc.contentType {
				t.Errorf("GET %s: Content-Type %q, want %q", tc.path, ct, tc.contentType)
			}
			if got := rec.Body.String() == index.Body.String(); got != tc.isIndex {
				t.Errorf("GET %s: answered the app's page: %v, want %v", tc.path, got, tc.isIndex)
			}
			checkSecurityHeaders(t, rec.Header())
		})
	}
	if !strings.Contains(index.Body.String(), `<script type="module" src="/app.js">`) {
		t.Errorf("the page does not load /app.js as a module")
	}
}

// No script or style of the app is inline, which the CSP would block.
func TestNoInlineScriptOrStyle(t *testing.T) {
	page := get(t, web.New(), "/").Body.String()
	for _, bad := range []string{"<script>", "<style", " style=", " onclick=", " onload=", "javascript:"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page has %q, which the CSP blocks", bad)
		}
	}
	for _, js := range []string{"/app.js", "/api.js", "/ui.js", "/user.js", "/pair.js", "/admin.js", "/errors.js", "/dashboard.js", "/device_admin.js"} {
		body := get(t, web.New(), js).Body.String()
		for _, bad := range []string{"eval(", "new Function(", "innerHTML", ".style."} {
			if strings.Contains(body, bad) {
				t.Errorf("%s uses %q (blocked by the CSP, or unsafe with user data)", js, bad)
			}
		}
	}
}

// An unchanged file costs a 304; other methods are refused.
func TestHandlerCachingAndMethods(t *testing.T) {
	h := web.New()
	first := get(t, h, "/app.css")
	etag := first.Header().Get("ETag")
	if etag == "" || first.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, first.Header().Get("Cache-Control"))
	}
	req := httptest.NewRequest("GET", "/app.css", nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("revalidation: %d with %d bytes, want 304 and none", rec.Code, rec.Body.Len())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("HEAD", "/", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD /: %d with %d bytes", rec.Code, rec.Body.Len())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", rec.Code)
	}
}

// Mounted in a real node, the app answers browsers' GETs while every /v1
// path, and every other method, stays the API's.
func TestMountedInTheServer(t *testing.T) {
	n := apptest.Start(t, "", apptest.QuietLogs)
	base := "http://" + n.HTTPAddr()
	tests := []struct {
		method, path string
		status       int
		html         bool
		code         int // the API error's code, when it is one
	}{
		{"GET", "/", http.StatusOK, true, 0},
		{"GET", "/nb/0123456789abcdef0123456789abcdef", http.StatusOK, true, 0},
		{"GET", "/admin/batches", http.StatusOK, true, 0},
		{"GET", "/v1/nothing", http.StatusNotFound, false, 4004},
		{"GET", "/v1/", http.StatusNotFound, false, 4004},
		{"GET", "/v1/homes/x/nothing", http.StatusNotFound, false, 4004},
		{"PUT", "/v1/homes", http.StatusNotFound, false, 4004},
		{"POST", "/", http.StatusNotFound, false, 4004},
		{"DELETE", "/homes/x", http.StatusNotFound, false, 4004},
		{"GET", "/v1/homes", http.StatusUnauthorized, false, 3720},
		{"GET", "/healthz", http.StatusOK, false, 0},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		what := tc.method + " " + tc.path
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d (%s)", what, resp.StatusCode, tc.status, body)
			continue
		}
		ct := resp.Header.Get("Content-Type")
		if tc.html {
			if ct != "text/html; charset=utf-8" || !strings.Contains(string(body), "<main") {
				t.Errorf("%s: %s, not the app's page", what, ct)
			}
			checkSecurityHeaders(t, resp.Header)
			continue
		}
		if ct != "application/json" && !strings.HasPrefix(ct, "application/json;") {
			t.Errorf("%s: Content-Type %q, want JSON", what, ct)
		}
		if tc.code != 0 {
			var e struct{ Code int }
			if err := json.Unmarshal(body, &e); err != nil || e.Code != tc.code {
				t.Errorf("%s: %s, want code %d", what, body, tc.code)
			}
		}
	}
}

// FuzzHandler: no path makes the handler fail or answer anything but the
// app's page, one of its files, or 404.
func FuzzHandler(f *testing.F) {
	for _, p := range []string{"/", "/app.js", "/nb/0123", "/../etc/passwd", "/static/app.js", "/a.b/c", "//x", "/%00"} {
		f.Add(p)
	}
	h := web.New()
	index := get(f, h, "/").Body.String()
	f.Fuzz(func(t *testing.T, p string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = "/" + strings.TrimPrefix(p, "/")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			if !strings.Contains(req.URL.Path[1:], ".") && rec.Body.String() != index {
				t.Fatalf("%q: 200 but not the app's page", req.URL.Path)
			}
		case http.StatusNotFound:
		default:
			t.Fatalf("%q: %d", req.URL.Path, rec.Code)
		}
		checkSecurityHeaders(t, rec.Header())
	})
}

func get(t testing.TB, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

func checkSecurityHeaders(t testing.TB, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline or eval'd script", csp)
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}
