// Package httpapi is the app- and admin-facing edge of nbpair: HTTP JSON
// handlers that decode and validate requests, call the pairing service and
// map its errors, through one table, to an HTTP status and a stable code.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/qr"
	"github.com/nbpair/nbpair/internal/web"
)

// maxBody bounds every request body but uploaded images.
const maxBody = 64 << 10

// bodyLimits are the routes that take more than maxBody; one byte over
// their limit tells that a body goes on past it.
var bodyLimits = map[string]int64{
	"/v1/qrcode:scan": qr.MaxImageBytes + 1,
	batchesPath:       pairing.MaxBatchBytes + 1,
}

// Metrics records the API's requests and serves what was recorded. The
// metrics package implements it.
type Metrics interface {
	// HTTPRequest counts a request answered with status on route, the
	// ServeMux pattern it took ("/" for no route of the API).
	HTTPRequest(route string, status int)
	// Handler serves the metrics in the Prometheus exposition format.
	Handler() http.Handler
}

// readyTimeout bounds the checks of GET /readyz.
const readyTimeout = 2 * time.Second

// Server holds the HTTP handlers.
type Server struct {
	svc        *pairing.Service
	log        *slog.Logger
	metrics    Metrics // nil: nothing recorded, GET /metrics answers 404
	adminToken [sha256.Size]byte
	mux        *http.ServeMux
	patterns   []string

	perUser, perAddr *requestLimit
	login            *loginThrottle
	scanner          *qr.Reader
	streams          *streams
	clients          clientAddrs
}

// New returns the API's handler set. adminToken is the bearer token of the
// admin API; m, which may be nil, records the requests.
func New(svc *pairing.Service, log *slog.Logger, adminToken string, limits Limits, m Metrics) *Server {
	s := &Server{svc: svc, log: log, metrics: m, adminToken: sha256.Sum256([]byte(adminToken)), mux: http.NewServeMux(),
		perUser: newRequestLimit(limits.Shared, "user", limits.PerUser, time.Minute, log),
		perAddr: newRequestLimit(limits.Shared, "addr", limits.PerAddr, time.Minute, log),
		login:   newLoginThrottle(limits.LoginFailures, limits.LoginFailuresPerAddr),
		scanner: qr.NewReader(scanLimits(limits.Scan)),
		streams: newStreams(limits.Streams),
		clients: clientAddrs{trusted: limits.TrustedProxies},
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	s.handle("GET /healthz", s.healthz)
	s.handle("GET /readyz", s.readyz)
	s.handle("GET /metrics", s.serveMetrics)
	s.handle("GET /v1/openapi.json", s.openAPI)
	s.handle("POST /v1/admin/products", s.admin(s.createProduct))
	s.handle("GET /v1/admin/products", s.admin(s.listProducts))
	s.handle("POST /v1/admin/devices", s.admin(s.provision))
	s.handle("GET /v1/admin/devices", s.admin(s.listDevices))
	s.handle("GET /v1/admin/devices/{id}", s.admin(s.getDevice))
	s.handle("GET /v1/admin/devices/{id}/label.png", s.admin(s.deviceLabel))
	s.handle("POST /v1/admin/batches", s.admin(s.importBatch))
	s.handle("GET /v1/admin/batches", s.admin(s.listBatches))
	s.handle("GET /v1/admin/batches/{id}", s.admin(s.getBatch))
	s.handle("GET /v1/admin/batches/{id}/factory.csv", s.admin(s.batchFactoryCSV))
	s.handle("GET /v1/admin/batches/{id}/labels.png", s.admin(s.batchLabels))
	s.handle("GET /v1/admin/audit", s.admin(s.auditLog))
	s.handle("POST /v1/admin/webhooks", s.admin(s.createWebhook))
	s.handle("GET /v1/admin/webhooks", s.admin(s.listWebhooks))
	s.handle("GET /v1/admin/webhooks/{id}", s.admin(s.getWebhook))
	s.handle("DELETE /v1/admin/webhooks/{id}", s.admin(s.deleteWebhook))
	s.handle("GET /v1/admin/webhooks/{id}/deliveries", s.admin(s.webhookDeliveries))
	s.handle("PUT /v1/admin/products/{id}/bindHook", s.admin(s.setBindHook))
	s.handle("GET /v1/admin/products/{id}/bindHook", s.admin(s.getBindHook))
	s.handle("DELETE /v1/admin/products/{id}/bindHook", s.admin(s.deleteBindHook))

	s.handle("POST /v1/users", s.signUp)
	s.handle("POST /v1/sessions", s.logIn)
	s.handle("DELETE /v1/sessions/current", s.user(s.logOut))
	s.handle("DELETE /v1/sessions", s.user(s.logOutEverywhere))
	s.handle("POST /v1/homes", s.user(s.createHome))
	s.handle("GET /v1/homes", s.user(s.listHomes))
	s.handle("PATCH /v1/homes/{id}", s.user(s.renameHome))
	s.handle("GET /v1/homes/{id}/devices", s.user(s.homeDevices))
	s.handle("GET /v1/homes/{id}/members", s.user(s.listMembers))
	s.handle("POST /v1/homes/{id}/members", s.user(s.addMember))
	s.handle("DELETE /v1/homes/{id}/members/{uid}", s.user(s.removeMember))
	s.handle("GET /v1/devices/{id}", s.user(s.getDeviceOfUser))
	s.handle("PATCH /v1/devices/{id}", s.user(s.renameDevice))
	s.handle("DELETE /v1/devices/{id}", s.user(s.removeDevice))
	s.handle("POST /v1/qrcode:parse", s.user(s.limited(s.parseQRCode)))
	s.handle("POST /v1/qrcode:scan", s.user(s.limited(s.scanQRCode)))
	s.handle("POST /v1/activations", s.user(s.limited(s.startActivation)))
	s.handle("GET /v1/activations/{id}", s.user(s.getActivation))
	s.handle("DELETE /v1/activations/{id}", s.user(s.stopActivation))
	s.handle("GET /v1/activations/{id}/events", s.user(s.activationEvents))
	s.lifecycleRoutes()
	s.sharingRoutes()
	s.dashboardRoutes()
	s.deviceAdminRoutes()
	notFound := func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, apiError(codeNotFound, "no such API route: "+r.Method+" "+r.URL.Path))
	}
	s.mux.HandleFunc("/v1/", notFound)
	// Everything else a browser GETs is the web app (its files, or its
	// page for one of its routes).
	app := web.New()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			notFound(w, r)
			return
		}
		app.ServeHTTP(w, r)
	})
}

// apiHandler is a handler that returns its error instead of writing it.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(pattern string, h apiHandler) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// ServeHTTP logs one line per request and turns a panic into a 500.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in handler", "panic", p, "path", r.URL.Path)
			s.writeError(rec, r, errors.New("panic"))
		}
		_, pattern := s.mux.Handler(r)
		if s.metrics != nil {
			s.metrics.HTTPRequest(pattern, rec.status)
		}
		s.log.Info("http", "method", r.Method, "route", pattern, "status", rec.status,
			"took", time.Since(start).Round(time.Microsecond), "remote_addr", r.RemoteAddr, "client_addr", clientIP(r))
	}()
	limit, ok := bodyLimits[r.URL.Path]
	if !ok {
		limit = maxBody
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	ip, audit := s.clients.of(r)
	r = r.WithContext(pairing.WithUserAgent(withClientIP(pairing.WithRemoteAddr(r.Context(), audit), ip), r.UserAgent()))
	s.mux.ServeHTTP(rec, r)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.Code == codeInternal.code {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nbpair"`)
	}
	if ae.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, ae.Status, ae)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Flush lets server-sent events through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Routes lists the API's routes as "METHOD /path/{param}" patterns.
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz tells whether the node can serve: its store answers a cheap
// query and can write (a write probe, and enough free space on its disk),
// and its event bus (NATS, on a cluster) is connected, all within
// readyTimeout. A 503 says which failed, and why.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.svc.Ready(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		switch {
		case errors.Is(err, pairing.ErrBusNotReady):
			return apiError(codeNotReady, "the event bus is not connected; try again later")
		case errors.Is(err, pairing.ErrStoreCannotWrite) && errors.Is(err, pairing.ErrStoreFull):
			return apiError(codeNotReady, err.Error()+"; free space on the store's disk: the node is ready again by itself")
		case errors.Is(err, pairing.ErrStoreCannotWrite):
			return apiError(codeNotReady, err.Error())
		}
		return apiError(codeNotReady, "the store does not answer; try again later")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// serveMetrics serves the node's metrics in the Prometheus text format.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.metrics == nil {
		return apiError(codeNotFound, "metrics are not recorded on this server")
	}
	s.metrics.Handler().ServeHTTP(w, r)
	return nil
}

//go:embed openapi.json
var openAPIDoc []byte

// openAPI serves the OpenAPI 3.1 document of this API.
func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDoc)
	return nil
}

// admin requires the admin bearer token.
func (s *Server) admin(h apiHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok := bearer(r)
		if tok == "" {
			return apiError(codeUserSessionLoss, "send the admin token as 'Authorization: Bearer <token>' (it is in the data directory, file admin.token)")
		}
		sum := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(sum[:], s.adminToken[:]) != 1 {
			return apiError(codeUserSessionLoss, "the admin token is not valid")
		}
		return h(w, r)
	}
}

// decode reads a JSON body into v, rejecting unknown fields and trailing
// data, and says exactly what was wrong.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return apiError(codeUnsupportedMedia, "send the body as application/json")
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return apiError(codeBodyTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBody))
	case errors.Is(err, io.EOF):
		return apiError(codeParamLoss, "the request needs a JSON body")
	case errors.As(err, &typeErr):
		return apiError(codeInvalidParams, fmt.Sprintf("field %q must be a JSON %s", typeErr.Field, typeErr.Type))
	}
	return apiError(codeInvalidParams, "the body is not valid JSON for this request: "+err.Error())
}
