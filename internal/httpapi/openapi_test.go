package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apierrors"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/httpapi"
	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/qr"
	"github.com/nbpair/nbpair/internal/testkit"
)

// The tests of openapi.json hold the document to the server: the same
// routes, resolvable references, the error table of errors.go, and every
// answer of a real node, success and error, valid against the schema the
// document declares for its route, method and status.

// spec is openapi.json, decoded with its numbers kept as json.Number.
type spec struct {
	raw []byte
	doc map[string]any
}

func loadSpec(t testing.TB) *spec {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := decodeJSON(raw, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return &spec{raw: raw, doc: doc}
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// resolve follows a local reference such as "#/components/schemas/Error".
func (s *spec) resolve(ref string) (any, error) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("%s: only references into this document are supported", ref)
	}
	var cur any = s.doc
	for _, tok := range strings.Split(p, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %q is not in an object", ref, tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("%s does not resolve: no %q", ref, tok)
		}
	}
	return cur, nil
}

// deref returns v as an object, following {"$ref": ...} objects.
func (s *spec) deref(t testing.TB, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			break
		}
		target, err := s.resolve(ref)
		if err != nil {
			t.Fatal(err)
		}
		m, _ = target.(map[string]any)
	}
	return m
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations maps "METHOD /path" to each operation of the document.
func (s *spec) operations() map[string]map[string]any {
	ops := map[string]map[string]any{}
	paths, _ := s.doc["paths"].(map[string]any)
	for path, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range httpMethods {
			if op, ok := item[m].(map[string]any); ok {
				ops[strings.ToUpper(m)+" "+path] = op
			}
		}
	}
	return ops
}

// annotations are the keywords validate accepts and ignores.
var annotations = map[string]bool{"description": true, "title": true, "format": true, "examples": true, "default": true}

// validate checks v against schema, in the subset of JSON Schema 2020-12
// openapi.json uses, and says where v does not match. A keyword it does not
// know is an error, so the document cannot use one the tests ignore.
func (s *spec) validate(schema, v any, at string) []string {
	sch, ok := schema.(map[string]any)
	if !ok {
		return []string{at + ": the schema is not an object"}
	}
	var errs []string
	for _, kw := range slices.Sorted(maps.Keys(sch)) {
		switch kw {
		case "$ref", "properties", "additionalProperties", "items", "oneOf":
			errs = append(errs, s.apply(kw, sch, v, at)...)
		default:
			if msg := assert(kw, sch[kw], v); msg != "" {
				errs = append(errs, at+": "+msg)
			}
		}
	}
	return errs
}

// apply validates v, or its parts, against the subschemas of keyword kw.
func (s *spec) apply(kw string, sch map[string]any, v any, at string) []string {
	var errs []string
	obj, _ := v.(map[string]any)
	switch arg := sch[kw]; kw {
	case "$ref":
		target, err := s.resolve(arg.(string))
		if err != nil {
			return []string{at + ": " + err.Error()}
		}
		return s.validate(target, v, at)
	case "properties":
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			if ps, ok := arg.(map[string]any)[name]; ok {
				errs = append(errs, s.validate(ps, obj[name], at+"."+name)...)
			}
		}
	case "additionalProperties":
		props, _ := sch["properties"].(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			if _, ok := props[name]; ok {
				continue
			} else if arg == false {
				errs = append(errs, fmt.Sprintf("%s: the property %q is not in the schema", at, name))
			} else {
				errs = append(errs, s.validate(arg, obj[name], at+"."+name)...)
			}
		}
	case "items":
		arr, _ := v.([]any)
		for i, e := range arr {
			errs = append(errs, s.validate(arg, e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "oneOf":
		n := 0
		for _, alt := range arg.([]any) {
			if len(s.validate(alt, v, at)) == 0 {
				n++
			}
		}
		if n != 1 {
			errs = append(errs, fmt.Sprintf("%s: %s matches %d of the oneOf schemas, not 1", at, short(v), n))
		}
	}
	return errs
}

// assert checks v against the keyword kw with the argument arg and says
// what does not hold, or "" when all does.
func assert(kw string, arg, v any) string {
	obj, isObj := v.(map[string]any)
	str, isStr := v.(string)
	num, isNum := v.(json.Number)
	lim, _ := arg.(json.Number)
	limit, _ := lim.Float64()
	switch kw {
	case "type":
		if !hasType(v, arg) {
			return fmt.Sprintf("%s is not of type %v", short(v), arg)
		}
	case "enum":
		if !slices.ContainsFunc(arg.([]any), func(e any) bool { return sameJSON(e, v) }) {
			return fmt.Sprintf("%s is not one of %v", short(v), arg)
		}
	case "required":
		for _, name := range arg.([]any) {
			if _, has := obj[name.(string)]; isObj && !has {
				return fmt.Sprintf("the required property %q is missing", name)
			}
		}
	case "minimum", "maximum":
		if x, _ := num.Float64(); isNum && (kw == "minimum" && x < limit || kw == "maximum" && x > limit) {
			return fmt.Sprintf("%s is beyond the %s %v", num, kw, limit)
		}
	case "minLength", "maxLength":
		if n := float64(utf8.RuneCountInString(str)); isStr && (kw == "minLength" && n < limit || kw == "maxLength" && n > limit) {
			return fmt.Sprintf("%v characters is beyond the %s %v", n, kw, limit)
		}
	case "pattern":
		if isStr && !regexp.MustCompile(arg.(string)).MatchString(str) {
			return fmt.Sprintf("%s does not match %s", short(v), arg)
		}
	default:
		if !annotations[kw] {
			return fmt.Sprintf("the test's validator does not support the keyword %q", kw)
		}
	}
	return ""
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func hasType(v, want any) bool {
	types, ok := want.([]any)
	if !ok {
		types = []any{want}
	}
	got := jsonType(v)
	return slices.ContainsFunc(types, func(w any) bool { return w == got || w == "number" && got == "integer" })
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func routes(n *apptest.Node) []string {
	return httpapi.New(n.Service(), slog.New(slog.DiscardHandler), "x", httpapi.Limits{}, nil).Routes()
}

func TestOpenAPIServed(t *testing.T) {
	sp := loadSpec(t)
	if v, _ := sp.doc["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Errorf("openapi is %q, want 3.1.x", v)
	}
	n := apptest.Start(t, "")
	resp, err := http.Get("http://" + n.HTTPAddr() + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /v1/openapi.json: HTTP %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, sp.raw) {
		t.Errorf("the served document (%d bytes) is not openapi.json (%d bytes)", len(body), len(sp.raw))
	}
}

func TestOpenAPIRoutes(t *testing.T) {
	sp := loadSpec(t)
	served := routes(apptest.Start(t, ""))
	documented := slices.Collect(maps.Keys(sp.operations()))
	notDocumented := slices.DeleteFunc(slices.Clone(served), func(r string) bool { return slices.Contains(documented, r) })
	notServed := slices.DeleteFunc(slices.Clone(documented), func(r string) bool { return slices.Contains(served, r) })
	slices.Sort(notDocumented)
	slices.Sort(notServed)
	if len(notDocumented)+len(notServed) > 0 {
		t.Errorf("the routes of the server and the paths of openapi.json differ\nserved, not documented:\n\t%s\ndocumented, not served:\n\t%s",
			strings.Join(notDocumented, "\n\t"), strings.Join(notServed, "\n\t"))
	}
}

// publicRoutes need no token; the admin API is under /v1/admin/ and takes
// the admin token; every other route takes a user's session token.
var publicRoutes = []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET /v1/openapi.json", "POST /v1/users", "POST /v1/sessions"}

func wantSecurity(route string) []string {
	switch {
	case slices.Contains(publicRoutes, route):
		return nil
	case strings.Contains(route, " /v1/admin/"):
		return []string{"adminToken"}
	}
	return []string{"userSession"}
}

// TestOpenAPIOperations checks what every operation must say: its security,
// its path parameters, a success, 401 when it takes a token, 500, and the
// Error schema for every error.
func TestOpenAPIOperations(t *testing.T) {
	sp := loadSpec(t)
	ids := map[string]string{}
	for route, op := range sp.operations() {
		id, _ := op["operationId"].(string)
		if prev, dup := ids[id]; id == "" || dup {
			t.Errorf("%s: operationId %q is empty or also that of %s", route, id, prev)
		}
		ids[id] = route
		var security []string
		reqs, ok := op["security"].([]any)
		if !ok {
			t.Errorf("%s: security is not declared", route)
		}
		for _, req := range reqs {
			security = slices.AppendSeq(security, maps.Keys(req.(map[string]any)))
		}
		for _, name := range security {
			if _, err := sp.resolve("#/components/securitySchemes/" + name); err != nil {
				t.Errorf("%s: %v", route, err)
			}
		}
		if want := wantSecurity(route); !slices.Equal(security, want) {
			t.Errorf("%s: security %v, want %v", route, security, want)
		}
		checkPathParams(t, sp, route, op)
		checkResponses(t, sp, route, op, len(security) > 0)
	}
}

func checkPathParams(t *testing.T, sp *spec, route string, op map[string]any) {
	var want, got []string
	for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(route, -1) {
		want = append(want, m[1])
	}
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		p := sp.deref(t, p)
		if p["in"] == "path" {
			got = append(got, p["name"].(string))
			if p["required"] != true {
				t.Errorf("%s: path parameter %v is not required", route, p["name"])
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: path parameters %v, want %v", route, got, want)
	}
}

func checkResponses(t *testing.T, sp *spec, route string, op map[string]any, secured bool) {
	responses := op["responses"].(map[string]any)
	if _, ok := responses["500"]; !ok {
		t.Errorf("%s: 500 is not documented", route)
	}
	if _, ok := responses["401"]; secured && !ok {
		t.Errorf("%s: takes a token but 401 is not documented", route)
	}
	success := false
	for status, r := range responses {
		r := sp.deref(t, r)
		if r["description"] == nil {
			t.Errorf("%s: response %s has no description", route, status)
		}
		success = success || strings.HasPrefix(status, "2")
		if status < "400" {
			continue
		}
		content, _ := r["content"].(map[string]any)
		media, _ := content["application/json"].(map[string]any)
		if len(content) != 1 || !sameJSON(media["schema"], map[string]any{"$ref": "#/components/schemas/Error"}) {
			t.Errorf("%s: response %s is not the Error schema as application/json", route, status)
		}
	}
	if !success {
		t.Errorf("%s: no success status is documented", route)
	}
}

// TestOpenAPIRefs resolves every $ref of the document, and requires every
// component to be referenced.
func TestOpenAPIRefs(t *testing.T) {
	sp := loadSpec(t)
	used := map[string]bool{}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if _, err := sp.resolve(ref); err != nil {
					t.Errorf("at %s: %v", at, err)
				}
				used[ref] = true
			}
			for k, e := range x {
				walk(e, at+"/"+k)
			}
		case []any:
			for i, e := range x {
				walk(e, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(sp.doc, "#")
	for kind, defs := range sp.doc["components"].(map[string]any) {
		for name := range defs.(map[string]any) {
			if ref := "#/components/" + kind + "/" + name; kind != "securitySchemes" && !used[ref] {
				t.Errorf("%s is never referenced", ref)
			}
		}
	}
}

// TestOpenAPIErrorCodes holds the Error schema to the code table the server
// answers with (internal/apierrors, generated into codes_gen.go): each code
// and name in its enums, and a row of its description.
func TestOpenAPIErrorCodes(t *testing.T) {
	sp := loadSpec(t)
	rows := apierrors.Codes
	if len(rows) < 10 {
		t.Fatalf("found %d rows of the code table; has it lost some?", len(rows))
	}
	schema := sp.doc["components"].(map[string]any)["schemas"].(map[string]any)["Error"].(map[string]any)
	props := schema["properties"].(map[string]any)
	codes := props["code"].(map[string]any)["enum"].([]any)
	names := props["name"].(map[string]any)["enum"].([]any)
	for _, row := range rows {
		code, name := json.Number(strconv.Itoa(row.Number)), row.Name
		if !slices.Contains(codes, any(code)) || !slices.Contains(names, any(name)) {
			t.Errorf("the Error schema's enums lack %s %s", code, name)
		}
		if line := fmt.Sprintf("| %s | %s | %d |", code, name, row.Status); !strings.Contains(schema["description"].(string), line) {
			t.Errorf("the Error schema's description lacks the row %q", line)
		}
	}
	if len(codes) != len(rows) || len(names) != len(rows) {
		t.Errorf("the Error schema lists %d codes and %d names; the code table has %d", len(codes), len(names), len(rows))
	}
}

// apiClient calls a real node and checks every answer against the document.
type apiClient struct {
	t      *testing.T
	base   string
	sp     *spec
	routes []string
	mux    *http.ServeMux     // the API's routes, to tell which one a request takes
	seen   map[string][]int   // route → the statuses it answered
	ctx    context.Context    // of every request
	cancel context.CancelFunc // of ctx
}

func newAPIClient(t *testing.T, n *apptest.Node, sp *spec) *apiClient {
	a := &apiClient{t: t, base: "http://" + n.HTTPAddr(), sp: sp, routes: routes(n), mux: http.NewServeMux(), seen: map[string][]int{}}
	for _, r := range a.routes {
		a.mux.HandleFunc(r, func(http.ResponseWriter, *http.Request) {})
	}
	a.ctx, a.cancel = context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(a.cancel)
	return a
}

// with returns a client that reports to t and shares a's record.
func (a *apiClient) with(t *testing.T) *apiClient {
	b := *a
	b.t = t
	return &b
}

// call is one request.
type call struct {
	method, path, token string
	body                any    // sent as JSON, or as is when []byte
	contentType         string // of a []byte body; application/json when empty
}

func get(token, path string) call { return call{method: "GET", path: path, token: token} }
func del(token, path string) call { return call{method: "DELETE", path: path, token: token} }
func post(token, path string, body any) call {
	return call{method: "POST", path: path, token: token, body: body}
}
func put(token, path string, body any) call {
	return call{method: "PUT", path: path, token: token, body: body}
}
func patch(token, path string, body any) call {
	return call{method: "PATCH", path: path, token: token, body: body}
}

// as sends c's body with another Content-Type.
func (c call) as(contentType string) call { c.contentType = contentType; return c }

func (c call) String() string { return c.method + " " + c.path }

func (a *apiClient) request(c call) *http.Request {
	a.t.Helper()
	var body []byte
	ct := c.contentType
	switch b := c.body.(type) {
	case nil:
	case []byte:
		body = b
		if ct == "" {
			ct = "application/json"
		}
	default:
		body, _ = json.Marshal(b)
		ct = "application/json"
	}
	req, err := http.NewRequestWithContext(a.ctx, c.method, a.base+c.path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req
}

// reply is an answer the document allows.
type reply struct {
	header http.Header
	body   []byte
	events []sseEvent
}

// do sends c, requires the status want, and checks the answer against the
// document. It decodes a JSON answer into out unless out is nil.
func (a *apiClient) do(c call, want int, out any) reply {
	a.t.Helper()
	req := a.request(c)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s: %v", c, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s: reading the answer: %v", c, err)
	}
	if resp.StatusCode != want {
		a.t.Fatalf("%s: HTTP %d, want %d: %s", c, resp.StatusCode, want, body)
	}
	rep := reply{header: resp.Header, body: body}
	media := a.documented(c, req, resp)
	switch mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); {
	case media == nil && len(body) > 0:
		a.t.Errorf("%s: HTTP %d has a body, but the document declares none", c, want)
	case mt == "application/json":
		a.checkJSON(c, media["schema"], body)
		if want >= 400 {
			a.checkJSON(c, errorSchema, body)
		}
	case mt == "image/png" && !bytes.HasPrefix(body, []byte("\x89PNG\r\n\x1a\n")):
		a.t.Errorf("%s: the body is not a PNG image", c)
	case mt == "text/event-stream":
		rep.events = a.readEvents(c, bufio.NewReader(bytes.NewReader(body)), -1)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			a.t.Fatalf("%s: %v: %s", c, err, body)
		}
	}
	return rep
}

var errorSchema = map[string]any{"$ref": "#/components/schemas/Error"}

// documented finds the response the document declares for the route,
// method and status of resp, records it, checks its headers and the
// request's body, and returns the declared media type of resp's body (nil
// when the response declares no body).
func (a *apiClient) documented(c call, req *http.Request, resp *http.Response) map[string]any {
	a.t.Helper()
	_, route := a.mux.Handler(req)
	if route == "" { // not a route: the API's catch-all answers
		return map[string]any{"schema": errorSchema}
	}
	a.seen[route] = append(a.seen[route], resp.StatusCode)
	op := a.sp.operations()[route]
	if op == nil {
		a.t.Fatalf("%s: the route %s is not documented", c, route)
	}
	rs := a.sp.deref(a.t, op["responses"].(map[string]any)[strconv.Itoa(resp.StatusCode)])
	if rs == nil {
		a.t.Fatalf("%s: HTTP %d is not documented for %s", c, resp.StatusCode, route)
	}
	headers, _ := rs["headers"].(map[string]any)
	for name := range headers {
		if resp.Header.Get(name) == "" {
			a.t.Errorf("%s: the documented header %s is missing", c, name)
		}
	}
	if resp.StatusCode < 300 && c.body != nil {
		a.checkRequest(c, op)
	}
	content, _ := rs["content"].(map[string]any)
	if len(content) == 0 {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	media, ok := content[mt].(map[string]any)
	if !ok {
		a.t.Fatalf("%s: Content-Type %q is not one the document declares for HTTP %d", c, mt, resp.StatusCode)
	}
	return media
}

// checkRequest checks the body of a request that succeeded against the
// documented request body.
func (a *apiClient) checkRequest(c call, op map[string]any) {
	a.t.Helper()
	rb := a.sp.deref(a.t, op["requestBody"])
	content, _ := rb["content"].(map[string]any)
	b, isBytes := c.body.([]byte)
	ct := orDefault(c.contentType, "application/json")
	media, ok := content[ct].(map[string]any)
	switch {
	case !ok:
		a.t.Errorf("%s: succeeded with a %s body, which the document does not declare", c, ct)
	case isBytes || media["schema"] == nil:
		return
	default:
		b, _ = json.Marshal(c.body)
		var v any
		decodeJSON(b, &v)
		if errs := a.sp.validate(media["schema"], v, "request"); len(errs) > 0 {
			a.t.Errorf("%s succeeded, but its body does not match the document:\n\t%s\n%s", c, strings.Join(errs, "\n\t"), b)
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkJSON validates a JSON body against schema.
func (a *apiClient) checkJSON(c call, schema any, body []byte) {
	a.t.Helper()
	var v any
	if err := decodeJSON(body, &v); err != nil {
		a.t.Fatalf("%s: the body is not JSON: %v: %s", c, err, body)
	}
	if errs := a.sp.validate(schema, v, "body"); len(errs) > 0 {
		a.t.Errorf("%s: the answer does not match the document:\n\t%s\n%s", c, strings.Join(errs, "\n\t"), body)
	}
}

// fail sends c and requires an Error with status and code.
func (a *apiClient) fail(c call, status, code int) reply {
	a.t.Helper()
	var e struct{ Code int }
	r := a.do(c, status, &e)
	if e.Code != code {
		a.t.Errorf("%s: code %d, want %d", c, e.Code, code)
	}
	return r
}

// sseEvent is one server-sent event.
type sseEvent struct{ event, id, data string }

// readEvents reads n events (all of them when n < 0) and validates each:
// an activation event whose data is the Activation schema. The callers
// check the event IDs, which number the events of one stream.
func (a *apiClient) readEvents(c call, br *bufio.Reader, n int) []sseEvent {
	a.t.Helper()
	var evs []sseEvent
	for n < 0 || len(evs) < n {
		ev, err := readEvent(br)
		if errors.Is(err, io.EOF) && n < 0 {
			break
		} else if err != nil {
			a.t.Fatalf("%s: reading event %d: %v", c, len(evs)+1, err)
		}
		a.checkJSON(c, map[string]any{"$ref": "#/components/schemas/Activation"}, []byte(ev.data))
		if ev.event != "activation" {
			a.t.Errorf("%s: event %q, want activation", c, ev.event)
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		a.t.Errorf("%s: the stream has no event", c)
	}
	return evs
}

// readEvent reads the next event of a stream, skipping comments.
func readEvent(br *bufio.Reader) (sseEvent, error) {
	var ev sseEvent
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return ev, err
		}
		field, value, _ := strings.Cut(strings.TrimSuffix(line, "\n"), ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			if value == "" && (ev.event != "" || len(data) > 0) { // a blank line ends the event
				ev.data = strings.Join(data, "\n")
				return ev, nil
			}
		case "event":
			ev.event = value
		case "id":
			ev.id = value
		case "data":
			data = append(data, value)
		}
	}
}

// checkCoverage requires every route to have answered a success, and an
// error if it documents any 4xx.
func (a *apiClient) checkCoverage() {
	for _, route := range a.routes {
		seen := a.seen[route]
		documented := slices.Sorted(maps.Keys(a.sp.operations()[route]["responses"].(map[string]any)))
		if !slices.ContainsFunc(seen, func(s int) bool { return s < 300 }) {
			a.t.Errorf("%s never answered a success", route)
		}
		if slices.ContainsFunc(documented, func(s string) bool { return s[0] == '4' }) &&
			!slices.ContainsFunc(seen, func(s int) bool { return s >= 400 && s < 500 }) {
			a.t.Errorf("%s never answered an error", route)
		}
		var untested []string
		for _, s := range documented {
			if n, _ := strconv.Atoi(s); n != http.StatusInternalServerError && !slices.Contains(seen, n) {
				untested = append(untested, s)
			}
		}
		if len(untested) > 0 {
			a.t.Logf("%s: documented but not seen here: %v", route, untested)
		}
	}
}

// world is what the steps of TestOpenAPIShapes make and use.
type world struct {
	n            *apptest.Node
	admin        string
	meter, spare apptest.Provisioned // spare is the device that gets bound
	alice, bob   account
	label        []byte // spare's QR label
	activation   string // alice's first activation of spare
}

type account struct{ uid, token, home string }

// TestOpenAPIShapes drives every route of a real node, to success and to
// errors, and validates every answer against the document.
func TestOpenAPIShapes(t *testing.T) {
	n := apptest.Start(t, "")
	a := newAPIClient(t, n, loadSpec(t))
	w := &world{n: n, admin: n.Token}
	steps := []struct {
		name string
		run  func(*apiClient, *world)
	}{
		{"public routes", stepPublic},
		{"no token or a bad one", stepBadTokens},
		{"products", stepProducts},
		{"webhooks and pre-bind hooks", stepWebhooks},
		{"provisioning", stepProvision},
		{"admin device list and labels", stepAdminDevices},
		{"batches", stepBatches},
		{"accounts", stepAccounts},
		{"bodies not JSON or too large", stepBodies},
		{"homes", stepHomes},
		{"QR text", stepParse},
		{"QR images", stepScan},
		{"activations", stepActivations},
		{"running activations", stepRunningActivations},
		{"activation events", stepEvents},
		{"activation timeout", stepTimeout},
		{"pairing", stepPairing},
		{"dashboard", stepDashboard},
		{"device search", stepDeviceSearch},
		{"queued downlinks", stepDownlinks},
		{"home members", stepMembers},
		{"account lifecycle, sharing and transfers", stepLifecycle},
		{"bound device", stepBoundDevice},
		{"audit log", stepAudit},
		{"admin actions on a device", stepDeviceAdmin},
		{"log out", stepLogOut},
		{"log out everywhere", stepLogOutEverywhere},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.run(a.with(t), w) }) {
			t.FailNow()
		}
	}
	a.checkCoverage()
}

func stepPublic(a *apiClient, w *world) {
	a.do(get("", "/healthz"), http.StatusOK, nil)
	a.do(get("", "/readyz"), http.StatusOK, nil)
	a.do(get("", "/metrics"), http.StatusOK, nil)
	a.do(get("", "/v1/openapi.json"), http.StatusOK, nil)
	a.fail(get("", "/v1/nothing"), http.StatusNotFound, 4004)
	a.fail(call{method: "PUT", path: "/v1/homes", token: "x"}, http.StatusNotFound, 4004)
}

func stepBadTokens(a *apiClient, w *world) {
	for _, route := range a.routes {
		method, path, _ := strings.Cut(route, " ")
		if slices.Contains(publicRoutes, route) {
			continue
		}
		path = strings.ReplaceAll(path, "{id}", "x")
		a.fail(call{method: method, path: path}, http.StatusUnauthorized, 3720)
		a.fail(call{method: method, path: path, token: "not-a-token"}, http.StatusUnauthorized, 3720)
	}
}

func stepProducts(a *apiClient, w *world) {
	const path = "/v1/admin/products"
	meter := map[string]any{"id": "meter", "name": "Water meter", "autoRegister": true}
	a.do(post(w.admin, path, meter), http.StatusCreated, nil)
	a.fail(post(w.admin, path, meter), http.StatusConflict, 4009)
	a.fail(post(w.admin, path, map[string]string{"id": "Water Meter", "name": "x"}), http.StatusBadRequest, 3723)
	a.fail(post(w.admin, path, []byte(`{"id":`)), http.StatusBadRequest, 3724)
	a.fail(post(w.admin, path, nil), http.StatusBadRequest, 3721)
	var list struct{ Products []struct{ ID string } }
	a.do(get(w.admin, path), http.StatusOK, &list)
	if len(list.Products) != 2 {
		a.t.Errorf("products: %+v, want default and meter", list.Products)
	}
}

func stepWebhooks(a *apiClient, w *world) {
	const path = "/v1/admin/webhooks"
	var h struct{ ID, Secret string }
	a.do(post(w.admin, path, map[string]any{"url": "http://127.0.0.1:1/hook", "events": []string{"device.bound", "activation.failed"}}),
		http.StatusCreated, &h)
	if h.Secret == "" {
		a.t.Errorf("a new webhook came without its secret")
	}
	a.fail(post(w.admin, path, map[string]any{"url": "ftp://127.0.0.1/x", "events": []string{"device.bound"}}), http.StatusBadRequest, 3723)
	a.fail(post(w.admin, path, map[string]any{"url": "http://127.0.0.1:1/x"}), http.StatusBadRequest, 3721)
	a.do(get(w.admin, path), http.StatusOK, nil)
	a.do(get(w.admin, path+"/"+h.ID), http.StatusOK, nil)
	a.fail(get(w.admin, path+"/wh_nope"), http.StatusNotFound, 4004)
	a.do(get(w.admin, path+"/"+h.ID+"/deliveries?limit=10"), http.StatusOK, nil)
	a.fail(get(w.admin, path+"/"+h.ID+"/deliveries?limit=0"), http.StatusBadRequest, 3723)
	a.fail(get(w.admin, path+"/wh_nope/deliveries"), http.StatusNotFound, 4004)
	a.do(del(w.admin, path+"/"+h.ID), http.StatusNoContent, nil)
	a.fail(del(w.admin, path+"/"+h.ID), http.StatusNotFound, 4004)

	hook := "/v1/admin/products/meter/bindHook"
	a.fail(get(w.admin, hook), http.StatusNotFound, 4004)
	a.do(put(w.admin, hook, map[string]any{"url": "http://127.0.0.1:1/check", "timeout": "2s", "onHookFailure": "allow"}), http.StatusOK, nil)
	a.fail(put(w.admin, hook, map[string]any{"url": "http://127.0.0.1:1/check", "timeout": "1h"}), http.StatusBadRequest, 3723)
	a.fail(put(w.admin, "/v1/admin/products/nope/bindHook", map[string]any{"url": "http://127.0.0.1:1/check"}), http.StatusBadRequest, 3717)
	a.do(get(w.admin, hook), http.StatusOK, nil)
	a.do(del(w.admin, hook), http.StatusNoContent, nil)
	a.fail(del(w.admin, hook), http.StatusNotFound, 4004)
}

func stepProvision(a *apiClient, w *world) {
	const path = "/v1/admin/devices"
	body := map[string]string{"imei": apptest.IMEI(1), "productId": "meter", "name": "Kitchen meter"}
	rep := a.do(post(w.admin, path, body), http.StatusCreated, &w.meter)
	if loc := rep.header.Get("Location"); loc != path+"/"+w.meter.ID {
		a.t.Errorf("Location: %q", loc)
	}
	a.do(post(w.admin, path, map[string]string{"imei": apptest.IMEI(2)}), http.StatusCreated, &w.spare)
	a.fail(post(w.admin, path, body), http.StatusConflict, 4009)
	a.fail(post(w.admin, path, map[string]string{"imei": "123"}), http.StatusBadRequest, 3723)
	a.fail(post(w.admin, path, map[string]string{}), http.StatusBadRequest, 3721)
	a.fail(post(w.admin, path, map[string]string{"imei": apptest.IMEI(3), "productId": "nope"}), http.StatusBadRequest, 3717)
	a.fail(post(w.admin, path, map[string]any{"imei": 1}), http.StatusBadRequest, 3724)
}

func stepAdminDevices(a *apiClient, w *world) {
	var page struct {
		Devices []struct{ ID string }
		Next    string
	}
	a.do(get(w.admin, "/v1/admin/devices"), http.StatusOK, nil)
	a.do(get(w.admin, "/v1/admin/devices?productId=meter&limit=1"), http.StatusOK, &page)
	if len(page.Devices) != 1 || page.Next != w.meter.ID {
		a.t.Errorf("the meter page: %+v", page)
	}
	a.do(get(w.admin, "/v1/admin/devices?productId=meter&after="+page.Next), http.StatusOK, nil)
	a.fail(get(w.admin, "/v1/admin/devices?limit=0"), http.StatusBadRequest, 3723)

	a.do(get(w.admin, "/v1/admin/devices/"+w.meter.ID), http.StatusOK, nil)
	a.do(get(w.admin, "/v1/admin/devices/"+w.meter.IMEI), http.StatusOK, nil)
	a.fail(get(w.admin, "/v1/admin/devices/dev_nope"), http.StatusNotFound, 4004)

	w.label = a.do(get(w.admin, "/v1/admin/devices/"+w.spare.ID+"/label.png"), http.StatusOK, nil).body
	a.do(get(w.admin, "/v1/admin/devices/"+w.spare.IMEI+"/label.png?size=600"), http.StatusOK, nil)
	a.fail(get(w.admin, "/v1/admin/devices/"+w.spare.ID+"/label.png?size=1"), http.StatusBadRequest, 3723)
	a.fail(get(w.admin, "/v1/admin/devices/dev_nope/label.png"), http.StatusNotFound, 4004)
}

func stepAccounts(a *apiClient, w *world) {
	creds := func(user, password string) map[string]string {
		return map[string]string{"username": user, "password": password}
	}
	const pw = "correct horse battery"
	a.do(post("", "/v1/users", creds("alice", pw)), http.StatusCreated, nil)
	a.do(post("", "/v1/users", creds("bob", pw)), http.StatusCreated, nil)
	a.fail(post("", "/v1/users", creds("alice", pw)), http.StatusConflict, 4009)
	a.fail(post("", "/v1/users", creds("al", pw)), http.StatusBadRequest, 3723)
	a.fail(post("", "/v1/users", map[string]string{"username": "carol"}), http.StatusBadRequest, 3721)
	a.fail(post("", "/v1/users", []byte(`{"username":"carol","password":"x","admin":true}`)), http.StatusBadRequest, 3724)

	var se struct{ Token, UID string }
	a.do(post("", "/v1/sessions", creds("alice", pw)), http.StatusCreated, &se)
	w.alice = account{uid: se.UID, token: se.Token}
	a.do(post("", "/v1/sessions", creds("bob", pw)), http.StatusCreated, &se)
	w.bob = account{uid: se.UID, token: se.Token}
	a.fail(post("", "/v1/sessions", creds("alice", "wrong password")), http.StatusUnauthorized, 4010)
	a.fail(post("", "/v1/sessions", map[string]string{}), http.StatusBadRequest, 3721)
}

// stepBodies sends every route that takes JSON a body of another type, and
// one over 64 KiB.
func stepBodies(a *apiClient, w *world) {
	tooLarge := map[string]string{"name": strings.Repeat("x", 64<<10)}
	for _, route := range a.routes {
		op := a.sp.operations()[route]
		content, _ := a.sp.deref(a.t, op["requestBody"])["content"].(map[string]any)
		if content["application/json"] == nil {
			continue
		}
		token := map[string]string{"adminToken": w.admin, "userSession": w.alice.token}[strings.Join(wantSecurity(route), "")]
		method, path, _ := strings.Cut(route, " ")
		c := call{method: method, path: strings.ReplaceAll(path, "{id}", "x"), token: token}
		c.body = []byte("name=x")
		a.fail(c.as("application/x-www-form-urlencoded"), http.StatusUnsupportedMediaType, 4015)
		c.body = tooLarge
		a.fail(c, http.StatusRequestEntityTooLarge, 4013)
	}
}

func stepHomes(a *apiClient, w *world) {
	var h struct{ ID string }
	a.do(post(w.alice.token, "/v1/homes", map[string]string{"name": "Alice's home"}), http.StatusCreated, &h)
	w.alice.home = h.ID
	a.do(post(w.bob.token, "/v1/homes", map[string]string{"name": "Bob's home"}), http.StatusCreated, &h)
	w.bob.home = h.ID
	a.fail(post(w.alice.token, "/v1/homes", map[string]string{}), http.StatusBadRequest, 3721)
	a.fail(post(w.alice.token, "/v1/homes", map[string]string{"name": " padded "}), http.StatusBadRequest, 3723)
	a.do(get(w.alice.token, "/v1/homes"), http.StatusOK, nil)
	a.do(get(w.alice.token, "/v1/homes/"+w.alice.home+"/devices"), http.StatusOK, nil)
	a.fail(get(w.bob.token, "/v1/homes/"+w.alice.home+"/devices"), http.StatusNotFound, 4004)
}

// unknownLabel is a label of this cloud that no device has.
func unknownLabel(w *world) string {
	return strings.TrimSuffix(w.spare.QR, w.spare.NbID) + strings.Repeat("0", 32)
}

func stepParse(a *apiClient, w *world) {
	const path = "/v1/qrcode:parse"
	var res struct{ ActionData struct{ ID string } }
	a.do(post(w.alice.token, path, map[string]string{"code": w.spare.QR}), http.StatusOK, &res)
	if res.ActionData.ID != w.spare.NbID {
		a.t.Errorf("parse: nbId %q, want %q", res.ActionData.ID, w.spare.NbID)
	}
	// The short code under the QR, typed in lower case, reads the same.
	res.ActionData.ID = ""
	a.do(post(w.alice.token, path, map[string]string{"code": strings.ToLower(pairing.ShortCode(w.spare.NbID))}), http.StatusOK, &res)
	if res.ActionData.ID != w.spare.NbID {
		a.t.Errorf("parse of the short code: nbId %q, want %q", res.ActionData.ID, w.spare.NbID)
	}
	a.fail(post(w.alice.token, path, map[string]string{"code": "868000000000033"}), http.StatusBadRequest, 4104)
	a.fail(post(w.alice.token, path, map[string]string{"code": " "}), http.StatusBadRequest, 3722)
	a.fail(post(w.alice.token, path, map[string]string{"code": "https://example.com/nb/" + w.spare.NbID}), http.StatusBadRequest, 4100)
	a.fail(post(w.alice.token, path, map[string]string{"code": strings.Repeat("a", 2049)}), http.StatusBadRequest, 4101)
	a.fail(post(w.alice.token, path, map[string]string{"code": unknownLabel(w)}), http.StatusNotFound, 3733)
	a.fail(post(w.alice.token, path, map[string]int{"code": 1}), http.StatusBadRequest, 3724)
	a.fail(post(w.alice.token, path, nil), http.StatusBadRequest, 3721)
}

func stepScan(a *apiClient, w *world) {
	const path = "/v1/qrcode:scan"
	var res struct{ Code string }
	a.do(post(w.alice.token, path, w.label).as("image/png"), http.StatusOK, &res)
	if res.Code != w.spare.QR {
		a.t.Errorf("scan: code %q, want %q", res.Code, w.spare.QR)
	}
	a.fail(post(w.alice.token, path, w.label).as("text/plain"), http.StatusUnsupportedMediaType, 4102)
	a.fail(post(w.alice.token, path, []byte("not a PNG")).as("image/png"), http.StatusUnsupportedMediaType, 4102)
	a.fail(post(w.alice.token, path, make([]byte, qr.MaxImageBytes+1)).as("image/png"), http.StatusRequestEntityTooLarge, 4013)
	a.fail(post(w.alice.token, path, blankPNG(a.t)).as("image/png"), http.StatusUnprocessableEntity, 4103)
	a.fail(post(w.alice.token, path, qrPNG(a.t, "https://example.com/")).as("image/png"), http.StatusBadRequest, 4100)
	a.fail(post(w.alice.token, path, qrPNG(a.t, unknownLabel(w))).as("image/png"), http.StatusNotFound, 3733)
}

func blankPNG(t *testing.T) []byte {
	img := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func qrPNG(t *testing.T, text string) []byte {
	b, err := qr.EncodePNG(text, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// activationView is the part of an activation the steps look at.
type activationView struct {
	ID, Status string
	Device     *struct{ DevID string }
	Error      *struct{ Code int }
}

func startBody(nbID, home string, timeout int) map[string]any {
	return map[string]any{"type": "NB", "nbId": nbID, "spaceId": home, "timeout": timeout, "timeZone": "Europe/Berlin"}
}

func stepActivations(a *apiClient, w *world) {
	const path = "/v1/activations"
	var act activationView
	rep := a.do(post(w.alice.token, path, startBody(w.spare.NbID, w.alice.home, 60)), http.StatusAccepted, &act)
	if act.Status != "pending" || rep.header.Get("Location") != path+"/"+act.ID {
		a.t.Errorf("start: %+v, Location %q", act, rep.header.Get("Location"))
	}
	w.activation = act.ID
	a.fail(post(w.alice.token, path, startBody(w.spare.NbID, w.alice.home, 60)), http.StatusConflict, 3710)
	a.fail(post(w.alice.token, path, map[string]string{"type": "NB"}), http.StatusBadRequest, 3721)
	a.fail(post(w.alice.token, path, map[string]string{"type": "Zigbee", "nbId": w.spare.NbID, "spaceId": w.alice.home}), http.StatusBadRequest, 3723)
	a.fail(post(w.alice.token, path, map[string]string{"type": "NB", "nbId": "  ", "spaceId": w.alice.home}), http.StatusBadRequest, 3722)
	a.fail(post(w.alice.token, path, map[string]any{"type": "NB", "timeout": "60"}), http.StatusBadRequest, 3724)
	a.fail(post(w.bob.token, path, startBody(w.spare.NbID, w.alice.home, 60)), http.StatusForbidden, 3719)
	a.fail(post(w.alice.token, path, startBody(strings.Repeat("0", 32), w.alice.home, 60)), http.StatusNotFound, 3733)

	a.do(get(w.alice.token, path+"/"+act.ID), http.StatusOK, nil)
	a.do(get(w.alice.token, path+"/"+act.ID+"?wait=10ms"), http.StatusOK, nil)
	a.fail(get(w.alice.token, path+"/"+act.ID+"?wait=soon"), http.StatusBadRequest, 3723)
	a.fail(get(w.alice.token, path+"/act_nope"), http.StatusNotFound, 4004)
	a.fail(get(w.bob.token, path+"/"+act.ID), http.StatusNotFound, 4004)
}

// stepEvents follows the pending activation's events while it is stopped.
func stepEvents(a *apiClient, w *world) {
	c := get(w.alice.token, "/v1/activations/"+w.activation+"/events")
	req := a.request(c)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || a.documented(c, req, resp) == nil {
		a.t.Fatalf("%s: HTTP %d", c, resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	if ev := a.readEvents(c, br, 1); ev[0].id != "1" || !strings.Contains(ev[0].data, `"status":"pending"`) {
		a.t.Errorf("first event: %+v", ev[0])
	}
	var act activationView
	a.do(del(w.alice.token, "/v1/activations/"+w.activation), http.StatusOK, &act)
	if act.Status != "stopped" || act.Error == nil || act.Error.Code != 4020 {
		a.t.Errorf("stop: %+v", act)
	}
	if ev := a.readEvents(c, br, 1); ev[0].id != "2" || !strings.Contains(ev[0].data, `"status":"stopped"`) {
		a.t.Errorf("last event: %+v", ev[0])
	}
	if _, err := readEvent(br); !errors.Is(err, io.EOF) {
		a.t.Errorf("the stream goes on after the activation ended: %v", err)
	}

	if evs := a.do(c, http.StatusOK, nil).events; len(evs) != 1 || evs[0].id != "1" || !strings.Contains(evs[0].data, `"status":"stopped"`) {
		a.t.Errorf("the events of a stopped activation: %+v", evs)
	}
	a.fail(get(w.alice.token, "/v1/activations/act_nope/events"), http.StatusNotFound, 4004)
	a.fail(del(w.alice.token, "/v1/activations/act_nope"), http.StatusNotFound, 4004)
	a.fail(del(w.bob.token, "/v1/activations/"+w.activation), http.StatusNotFound, 4004)
}

func stepTimeout(a *apiClient, w *world) {
	var act activationView
	a.do(post(w.alice.token, "/v1/activations", startBody(w.spare.NbID, w.alice.home, 1)), http.StatusAccepted, &act)
	a.do(get(w.alice.token, "/v1/activations/"+act.ID+"?wait=20s"), http.StatusOK, &act)
	if act.Status != "failed" || act.Error == nil || act.Error.Code != 1512 {
		a.t.Errorf("after the timeout: %+v", act)
	}
}

// stepPairing registers spare over CoAP and binds it to alice's home.
func stepPairing(a *apiClient, w *world) {
	apptest.RunDevice(a.t, w.n, device.Config{IMEI: w.spare.IMEI})
	testkit.Eventually(a.t, "the registration", func() bool { return w.n.Device(a.t, w.spare.ID).Online })
	var d apptest.Provisioned
	a.do(get(w.admin, "/v1/admin/devices/"+w.spare.ID), http.StatusOK, &d)
	if d.Reg == nil {
		a.t.Fatalf("no registration: %+v", d)
	}
	var act activationView
	a.do(post(w.alice.token, "/v1/activations", startBody(w.spare.NbID, w.alice.home, 60)), http.StatusAccepted, &act)
	a.do(get(w.alice.token, "/v1/activations/"+act.ID+"?wait=20s"), http.StatusOK, &act)
	if act.Status != "paired" || act.Device == nil || act.Device.DevID != w.spare.ID {
		a.t.Fatalf("the activation ended %+v", act)
	}
	a.do(get(w.admin, "/v1/admin/devices/"+w.spare.ID), http.StatusOK, nil)
	a.fail(post(w.bob.token, "/v1/activations", startBody(w.spare.NbID, w.bob.home, 60)), http.StatusConflict, 3711)
}

func stepBoundDevice(a *apiClient, w *world) {
	path := "/v1/devices/" + w.spare.ID
	var list struct{ Devices []struct{ DevID string } }
	a.do(get(w.alice.token, "/v1/homes/"+w.alice.home+"/devices"), http.StatusOK, &list)
	if len(list.Devices) != 1 || list.Devices[0].DevID != w.spare.ID {
		a.t.Errorf("home devices: %+v", list)
	}
	a.do(get(w.alice.token, path), http.StatusOK, nil)
	a.fail(get(w.bob.token, path), http.StatusNotFound, 4004)
	a.fail(get(w.alice.token, "/v1/devices/"+w.meter.ID), http.StatusNotFound, 4004)

	a.do(patch(w.alice.token, path, map[string]string{"name": "Garden meter"}), http.StatusOK, nil)
	a.fail(patch(w.alice.token, path, map[string]string{}), http.StatusBadRequest, 3721)
	a.fail(patch(w.alice.token, path, []byte(`{"name":"x","room":"y"}`)), http.StatusBadRequest, 3724)
	a.fail(patch(w.bob.token, path, map[string]string{"name": "Mine now"}), http.StatusNotFound, 4004)

	a.fail(del(w.bob.token, path), http.StatusNotFound, 4004)
	a.do(del(w.alice.token, path), http.StatusNoContent, nil)
	a.fail(del(w.alice.token, path), http.StatusNotFound, 4004)
}

func stepLogOut(a *apiClient, w *world) {
	a.do(del(w.bob.token, "/v1/sessions/current"), http.StatusNoContent, nil)
	a.fail(get(w.bob.token, "/v1/homes"), http.StatusUnauthorized, 3720)
	a.fail(del(w.bob.token, "/v1/sessions/current"), http.StatusUnauthorized, 3720)
}

// TestOpenAPIExpiredSession checks the answer to an expired session token
// on a node whose sessions end at once.
func TestOpenAPIExpiredSession(t *testing.T) {
	n := apptest.Start(t, "", func(c *config.Config) { c.SessionTTL = config.Duration(time.Nanosecond) })
	a := newAPIClient(t, n, loadSpec(t))
	creds := map[string]string{"username": "dave", "password": "correct horse battery"}
	a.do(post("", "/v1/users", creds), http.StatusCreated, nil)
	var se struct{ Token string }
	a.do(post("", "/v1/sessions", creds), http.StatusCreated, &se)
	a.fail(get(se.Token, "/v1/homes"), http.StatusUnauthorized, 3718)
}
