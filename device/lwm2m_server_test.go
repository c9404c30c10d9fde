package device

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
)

// request is what the fake server saw of one device request.
type request struct {
	method  codes.Code
	typ     message.Type
	path    string
	queries []string
	format  int // noFormat when absent
	payload string
	remote  string
}

// fakeServer plays the LwM2M server: it accepts Register (answering
// Location-Path rd/<n>), Update and De-register, records every request,
// and lets the test send requests to the device over the connection of
// the last one.
type fakeServer struct {
	t    *testing.T
	addr string

	mu           sync.Mutex
	requests     []request  // guarded by mu
	conn         mux.Conn   // guarded by mu; of the last request
	registered   int        // guarded by mu
	refuseCode   codes.Code // guarded by mu; answer to Register when set
	refuseDiag   string     // guarded by mu
	updateAnswer codes.Code // guarded by mu; answer to Update when set, once
	sendAnswer   codes.Code // guarded by mu; answer to Send (/dp) when set
}

func startFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	l, err := coapnet.NewListenUDP("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, addr: l.LocalAddr().String()}
	router := mux.NewRouter()
	router.DefaultHandle(mux.HandlerFunc(s.serve))
	srv := udp.NewServer(options.WithMux(router))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
		_ = l.Close()
	})
	return s
}

// url is the server's address for Config.Server.
func (s *fakeServer) url() string { return "coap://" + s.addr }

func (s *fakeServer) serve(w mux.ResponseWriter, r *mux.Message) {
	req := recordRequest(w, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	s.conn = w.Conn()
	switch {
	case req.method == codes.POST && req.path == "/rd":
		s.answerRegister(w)
	case req.method == codes.POST && strings.HasPrefix(req.path, "/rd/"):
		code := codes.Changed
		if s.updateAnswer != 0 {
			code, s.updateAnswer = s.updateAnswer, 0
		}
		_ = w.SetResponse(code, message.TextPlain, nil)
	case req.method == codes.POST && req.path == "/dp":
		code := codes.Changed
		if s.sendAnswer != 0 {
			code = s.sendAnswer
		}
		_ = w.SetResponse(code, message.TextPlain, nil)
	case req.method == codes.DELETE && strings.HasPrefix(req.path, "/rd/"):
		_ = w.SetResponse(codes.Deleted, message.TextPlain, nil)
	default:
		_ = w.SetResponse(codes.NotFound, message.TextPlain, nil)
	}
}

// answerRegister answers a Register. s.mu must be held.
func (s *fakeServer) answerRegister(w mux.ResponseWriter) {
	if s.refuseCode != 0 {
		_ = w.SetResponse(s.refuseCode, message.TextPlain, strings.NewReader(s.refuseDiag))
		return
	}
	s.registered++
	_ = w.SetResponse(codes.Created, message.TextPlain, nil,
		message.Option{ID: message.LocationPath, Value: []byte("rd")},
		message.Option{ID: message.LocationPath, Value: []byte(fmt.Sprint(s.registered))},
	)
}

func recordRequest(w mux.ResponseWriter, r *mux.Message) request {
	req := request{method: r.Code(), typ: r.Type(), format: noFormat, remote: w.Conn().RemoteAddr().String()}
	req.path, _ = r.Options().Path()
	req.queries, _ = r.Options().Queries()
	if cf, err := r.Options().ContentFormat(); err == nil {
		req.format = int(cf)
	}
	if body, err := r.ReadBody(); err == nil {
		req.payload = string(body)
	}
	return req
}

// refuse makes the server answer Register with code and diagnostic.
func (s *fakeServer) refuse(code codes.Code, diagnostic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseCode, s.refuseDiag = code, diagnostic
}

// answerNextUpdate makes the server answer the next Update with code.
func (s *fakeServer) answerNextUpdate(code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateAnswer = code
}

// answerSend makes the server answer every Send (POST /dp) with code.
func (s *fakeServer) answerSend(code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sendAnswer = code
}

// seen returns the requests with this method whose path starts with prefix.
func (s *fakeServer) seen(method codes.Code, prefix string) []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []request
	for _, r := range s.requests {
		if r.method == method && strings.HasPrefix(r.path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// registers returns the Register requests seen.
func (s *fakeServer) registers() []request {
	var out []request
	for _, r := range s.seen(codes.POST, "/rd") {
		if r.path == "/rd" {
			out = append(out, r)
		}
	}
	return out
}

// noFormat stands for an absent Content-Format or Accept option.
const noFormat = -1

// send sends a request to the device over the connection of the last
// request and returns the answer's code, content format (or noFormat) and
// payload. For GET, format is the Accept option; noFormat leaves it out.
func (s *fakeServer) send(method codes.Code, path string, format int, payload []byte) (codes.Code, int, []byte) {
	s.t.Helper()
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		s.t.Fatal("no device has talked to the server yet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.do(ctx, conn, method, path, format, payload)
	if err != nil {
		s.t.Fatalf("%v %s: %v", method, path, err)
	}
	defer conn.ReleaseMessage(resp)
	cf := noFormat
	if f, err := resp.ContentFormat(); err == nil {
		cf = int(f)
	}
	body, _ := resp.ReadBody()
	return resp.Code(), cf, body
}

func (s *fakeServer) do(ctx context.Context, conn mux.Conn, method codes.Code, path string, format int, payload []byte) (*pool.Message, error) {
	var body io.ReadSeeker
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	switch method {
	case codes.GET:
		if format != noFormat {
			return conn.Get(ctx, path, message.Option{ID: message.Accept, Value: acceptValue(format)})
		}
		return conn.Get(ctx, path)
	case codes.PUT:
		return conn.Put(ctx, path, message.MediaType(format), body)
	case codes.POST:
		return conn.Post(ctx, path, message.MediaType(format), body)
	case codes.DELETE:
		return conn.Delete(ctx, path)
	}
	return nil, fmt.Errorf("method %v not supported by the fake server", method)
}

func acceptValue(f int) []byte {
	buf := make([]byte, 4)
	n, _ := message.EncodeUint32(buf, uint32(f))
	return buf[:n]
}

// sendQuery sends a request whose path may carry a query ("/3/0?pmin=5")
// and no payload; for GET, format is the Accept option.
func (s *fakeServer) sendQuery(method codes.Code, pathQuery string, format int) (codes.Code, int, []byte) {
	s.t.Helper()
	path, query, _ := strings.Cut(pathQuery, "?")
	var opts []message.Option
	if query != "" {
		for _, q := range strings.Split(query, "&") {
			opts = append(opts, message.Option{ID: message.URIQuery, Value: []byte(q)})
		}
	}
	if method == codes.GET && format != noFormat {
		opts = append(opts, message.Option{ID: message.Accept, Value: acceptValue(format)})
	}
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var resp *pool.Message
	var err error
	if method == codes.GET {
		resp, err = conn.Get(ctx, path, opts...)
	} else {
		resp, err = conn.Put(ctx, path, message.TextPlain, nil, opts...) // no payload: no Content-Format
	}
	if err != nil {
		s.t.Fatalf("%v %s: %v", method, pathQuery, err)
	}
	defer conn.ReleaseMessage(resp)
	cf := noFormat
	if f, err := resp.ContentFormat(); err == nil {
		cf = int(f)
	}
	body, _ := resp.ReadBody()
	return resp.Code(), cf, body
}
