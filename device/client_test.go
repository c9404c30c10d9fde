package device

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/testkit"
	"github.com/nbpair/nbpair/internal/wire"
)

const (
	testIMEI    = "490154203237518"
	waitTimeout = 10 * time.Second
)

// recorder collects a client's events.
type recorder struct {
	mu     sync.Mutex
	events []Event // guarded by mu
}

func (r *recorder) add(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) count(kind EventKind) int {
	n := 0
	for _, e := range r.all() {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func (r *recorder) last(kind EventKind) (Event, bool) {
	events := r.all()
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Kind == kind {
			return events[i], true
		}
	}
	return Event{}, false
}

// runningDevice is a Client running against a fake server.
type runningDevice struct {
	*Client
	events *recorder
	stop   func() error // cancels Run and returns its result
}

// startDevice runs a client for cfg, filling in Server and IMEI, and waits
// until it is registered.
func startDevice(t *testing.T, srv *fakeServer, cfg Config) *runningDevice {
	t.Helper()
	d := launchDevice(t, srv, cfg)
	testkit.Eventually(t, "registration", func() bool { return d.Location() != "" })
	return d
}

// launchDevice runs a client for cfg without waiting for anything.
func launchDevice(t *testing.T, srv *fakeServer, cfg Config) *runningDevice {
	t.Helper()
	rec := &recorder{}
	if srv != nil {
		cfg.Server = srv.url()
	}
	if cfg.IMEI == "" {
		cfg.IMEI = testIMEI
	}
	cfg.OnEvent = rec.add
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- c.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-result:
			case <-time.After(waitTimeout):
				runErr = errors.New("Run did not return after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return &runningDevice{Client: c, events: rec, stop: stop}
}

func TestRegisterRequest(t *testing.T) {
	base := []string{"ep=urn:imei:" + testIMEI, "lt=300", "lwm2m=1.1", "b=U"}
	tests := map[string]struct {
		cfg         Config
		wantQueries []string
		wantPayload string
	}{
		"defaults": {
			wantQueries: base,
			wantPayload: `</>;rt="oma.lwm2m",</1/0>,</3/0>,</33050/0>`,
		},
		"queue mode and product": {
			cfg:         Config{QueueMode: true, ProductID: "p_lamp-1", Lifetime: 90 * time.Second},
			wantQueries: []string{"ep=urn:imei:" + testIMEI, "lt=90", "lwm2m=1.1", "b=U", "Q", "pid=p_lamp-1"},
			wantPayload: `</>;rt="oma.lwm2m",</1/0>,</3/0>,</33050/0>`,
		},
		"preferred format announced": {
			cfg:         Config{PreferredFormat: wire.FormatSenMLJSON},
			wantQueries: base,
			wantPayload: `</>;rt="oma.lwm2m";ct=110,</1/0>,</3/0>,</33050/0>`,
		},
		"stock client without the pairing object": {
			cfg:         Config{WithoutPairingObject: true, Endpoint: "sensor-7"},
			wantQueries: []string{"ep=sensor-7", "lt=300", "lwm2m=1.1", "b=U"},
			wantPayload: `</>;rt="oma.lwm2m",</1/0>,</3/0>`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := startFakeServer(t)
			d := startDevice(t, srv, tt.cfg)
			regs := srv.registers()
			if len(regs) != 1 {
				t.Fatalf("server saw %d Registers, want 1", len(regs))
			}
			r := regs[0]
			if !slices.Equal(r.queries, tt.wantQueries) {
				t.Errorf("queries = %q, want %q", r.queries, tt.wantQueries)
			}
			if r.format != int(message.AppLinkFormat) {
				t.Errorf("content format = %v, want application/link-format", r.format)
			}
			if r.payload != tt.wantPayload {
				t.Errorf("payload = %s, want %s", r.payload, tt.wantPayload)
			}
			if _, err := wire.ParseLinkFormat([]byte(r.payload)); err != nil {
				t.Errorf("payload does not parse: %v", err)
			}
			if got := d.Location(); got != "rd/1" {
				t.Errorf("Location() = %q, want rd/1", got)
			}
			testkit.Eventually(t, "registered event", func() bool { return d.events.count(EventRegistered) == 1 })
			if e, _ := d.events.last(EventRegistered); e.String() != "registered as rd/1" {
				t.Errorf("registered event = %q, want \"registered as rd/1\"", e)
			}
		})
	}
}

func TestLocationPath(t *testing.T) {
	opt := func(v string) message.Option { return message.Option{ID: message.LocationPath, Value: []byte(v)} }
	tests := map[string]struct {
		opts message.Options
		want string
	}{
		"two options":          {message.Options{opt("rd"), opt("5a3f")}, "rd/5a3f"},
		"one option with a /":  {message.Options{opt("rd/0")}, "rd/0"},
		"none":                 {nil, ""},
		"control character":    {message.Options{opt("rd"), opt("a\nb")}, ""},
		"other options around": {message.Options{{ID: message.ContentFormat}, opt("rd"), opt("7")}, "rd/7"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := locationPath(tt.opts); got != tt.want {
				t.Errorf("locationPath = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRegisterRefused(t *testing.T) {
	srv := startFakeServer(t)
	srv.refuse(codes.Forbidden, "unknown product p_x")
	c, err := New(Config{Server: srv.url(), IMEI: testIMEI})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err = c.Run(ctx)
	var re *ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("Run() = %v, want a *ResponseError", err)
	}
	if re.Code != codes.Forbidden || re.Diagnostic != "unknown product p_x" {
		t.Errorf("error = %+v, want 4.03 with the diagnostic", re)
	}
	if msg := err.Error(); !strings.Contains(msg, "4.03") || !strings.Contains(msg, "unknown product p_x") {
		t.Errorf("error text %q lacks the code or the diagnostic", msg)
	}
	if c.Location() != "" {
		t.Errorf("Location() = %q after a refused Register", c.Location())
	}
}

func TestRegisterNoServer(t *testing.T) {
	// A port nobody listens on: bind one, then free it.
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.LocalAddr().String()
	_ = l.Close()
	c, err := New(Config{Server: "coap://" + addr, IMEI: testIMEI, AckTimeout: 20 * time.Millisecond, MaxRetransmit: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Run(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("Run() = %v without a server, want a register error", err)
	}
}

func TestUpdateAfterNotFoundRegistersAgain(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := d.Update(ctx); err != nil {
		t.Fatalf("Update() = %v", err)
	}
	if n := len(srv.seen(codes.POST, "/rd/1")); n != 1 {
		t.Fatalf("server saw %d Updates of rd/1, want 1", n)
	}
	srv.answerNextUpdate(codes.NotFound)
	if err := d.Update(ctx); err != nil {
		t.Fatalf("Update() after 4.04 = %v", err)
	}
	if n := len(srv.registers()); n != 2 {
		t.Fatalf("server saw %d Registers, want 2", n)
	}
	if got := d.Location(); got != "rd/2" {
		t.Errorf("Location() = %q, want rd/2", got)
	}
	testkit.Eventually(t, "registration lost event", func() bool { return d.events.count(EventRegistrationLost) == 1 })
}

func TestDeregisterOnCancel(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{})
	if err := d.stop(); err != nil {
		t.Fatalf("Run() = %v, want nil after cancel", err)
	}
	if dels := srv.seen(codes.DELETE, "/rd/1"); len(dels) != 1 {
		t.Fatalf("server saw %d De-registers of rd/1, want 1", len(dels))
	}
	if d.Location() != "" || d.Status().Awake {
		t.Errorf("status after Run = %+v, want not registered and no socket", d.Status())
	}
	events := d.events.all()
	if last := events[len(events)-1]; last.Kind != EventDeregistered || last.String() != "de-registered rd/1" {
		t.Errorf("last event = %v, want de-registered rd/1", last)
	}
	if err := d.Update(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Update() after Run = %v, want ErrNotRunning", err)
	}
}

func TestRunTwice(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{})
	if err := d.Run(context.Background()); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run() = %v, want ErrAlreadyRunning", err)
	}
}

func TestPeriodicUpdate(t *testing.T) {
	srv := startFakeServer(t)
	// A one-second lifetime makes the refresh interval half a second.
	d := startDevice(t, srv, Config{Lifetime: time.Second})
	testkit.Eventually(t, "two Updates", func() bool { return len(srv.seen(codes.POST, "/rd/1")) >= 2 })
	testkit.Eventually(t, "an updated event", func() bool { return d.events.count(EventUpdated) >= 1 })
	if regs := srv.registers(); len(regs) != 1 {
		t.Errorf("server saw %d Registers, want 1", len(regs))
	}
}

func TestQueueModeSleepsAndWakesOnNewSocket(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{QueueMode: true, AwakeTime: 50 * time.Millisecond, SleepTime: 100 * time.Millisecond})
	regAddr := srv.registers()[0].remote
	testkit.Eventually(t, "an Update after sleeping", func() bool { return len(srv.seen(codes.POST, "/rd/1")) >= 1 })
	upd := srv.seen(codes.POST, "/rd/1")[0]
	if upd.remote == regAddr {
		t.Errorf("the Update came from %s like the Register; want a new socket", upd.remote)
	}
	testkit.Eventually(t, "sleeping and waking events", func() bool {
		return d.events.count(EventSleeping) >= 1 && d.events.count(EventWaking) >= 1
	})
	sleeping, ok := d.events.last(EventSleeping)
	if !ok || !strings.HasPrefix(sleeping.String(), "sleeping for ") {
		t.Errorf("sleeping event = %v (%v)", sleeping, ok)
	}
	waking, ok := d.events.last(EventWaking)
	if !ok || waking.LocalAddr == "" {
		t.Errorf("waking event = %+v (%v), want one with the new address", waking, ok)
	}
}

func TestUpdateWakesSleepingDevice(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{QueueMode: true, AwakeTime: 20 * time.Millisecond, SleepTime: time.Hour, Lifetime: 24 * time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := d.Wait(ctx, func(s Status) bool { return !s.Awake }); err != nil {
		t.Fatalf("device did not fall asleep: %v", err)
	}
	if err := d.Update(ctx); err != nil {
		t.Fatalf("Update() = %v", err)
	}
	if n := len(srv.seen(codes.POST, "/rd/1")); n != 1 {
		t.Errorf("server saw %d Updates, want 1", n)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if dels := srv.seen(codes.DELETE, "/rd/1"); len(dels) != 1 {
		t.Errorf("server saw %d De-registers, want 1", len(dels))
	}
}

func TestDeregisterWhileAsleep(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{QueueMode: true, AwakeTime: 20 * time.Millisecond, SleepTime: time.Hour, Lifetime: 24 * time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := d.Wait(ctx, func(s Status) bool { return !s.Awake }); err != nil {
		t.Fatalf("device did not fall asleep: %v", err)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if dels := srv.seen(codes.DELETE, "/rd/1"); len(dels) != 1 {
		t.Errorf("server saw %d De-registers, want 1", len(dels))
	}
}

func TestFailedUpdateIsRetried(t *testing.T) {
	srv := startFakeServer(t)
	// A short ACK timeout makes the retry backoff short too.
	d := startDevice(t, srv, Config{AckTimeout: 10 * time.Millisecond, Lifetime: time.Hour})
	srv.answerNextUpdate(codes.ServiceUnavailable)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var re *ResponseError
	if err := d.Update(ctx); !errors.As(err, &re) || re.Code != codes.ServiceUnavailable || re.Op != "update" {
		t.Fatalf("Update() = %v, want a 5.03 *ResponseError", err)
	}
	testkit.Eventually(t, "the retried Update", func() bool { return len(srv.seen(codes.POST, "/rd/1")) >= 2 })
	testkit.Eventually(t, "error and updated events", func() bool {
		return d.events.count(EventError) == 1 && d.events.count(EventUpdated) >= 1
	})
	if e, _ := d.events.last(EventError); !strings.Contains(e.String(), "5.03") {
		t.Errorf("error event = %q, want the 5.03 in it", e)
	}
}
