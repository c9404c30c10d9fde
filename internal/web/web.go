// Package web is nbpair's browser app: plain HTML, CSS and JavaScript
// modules embedded in the binary and served at "/" next to the API. It is a
// single page app with path routes, so every GET of a path that is not a
// file of the app (for example a label's /nb/<nbId>, opened by a phone's
// camera app) answers the app's page, which then shows the right screen.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every answer of the app: its own
// scripts, styles and API only, nothing inline, never in a frame. Images
// may be blob: URLs (the preview of a label photo and downloaded label
// sheets).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one embedded file, read once.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the app. Only GET and HEAD are answered with content;
// the caller routes other methods elsewhere.
type Handler struct {
	files map[string]file // by path, "/index.html"
	index file
}

// New reads the embedded app.
func New() *Handler {
	h := &Handler{files: map[string]file{}}
	root, _ := fs.Sub(static, "static")
	fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.files["/"+p] = file{body: b, contentType: contentType(p), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	h.index = h.files["/index.html"]
	return h
}

func contentType(p string) string {
	switch path.Ext(p) {
	case ".webmanifest":
		return "application/manifest+json"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	}
	if ct := mime.TypeByExtension(path.Ext(p)); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// ServeHTTP answers a file of the app, or the app's page for any path
// without a file extension (a route of the app), or 404 for a missing
// file.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	SecurityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, ok := h.files[r.URL.Path]
	switch {
	case ok && r.URL.Path != "/index.html":
	case r.URL.Path == "/index.html" || !strings.Contains(path.Base(r.URL.Path), "."):
		f = h.index
	default:
		w.Header().Set("Cache-Control", "no-cache")
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("ETag", f.etag)
	// Revalidated on every load, so a new binary's app is used at once;
	// unchanged files cost a 304.
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// SecurityHeaders sets the headers every answer of the app carries.
func SecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// A label's URL holds its pairing ID: never send it on as a referrer.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
}
