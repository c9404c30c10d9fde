package fleet

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/nbpair/nbpair/internal/testkit"
)

// regServer is a small LwM2M registration server on a real UDP socket
// that notes where each request came from: it answers a Register with
// 2.01 and Location-Path rd/<IMEI>, then writes the device's Pairing
// object (CON PUT /33050/0) to the Register's source, and answers an
// Update of rd/<IMEI> with 2.04.
type regServer struct {
	c *net.UDPConn

	mu        sync.Mutex
	regAt     map[string]netip.AddrPort // guarded by mu; IMEI → source of its Register
	seen      map[netip.AddrPort]bool   // guarded by mu; every source a request came from
	updates   int                       // guarded by mu
	strayed   []string                  // guarded by mu; IMEIs whose Update came from elsewhere
	writes    map[uint16]string         // guarded by mu; message ID of a Write → its IMEI
	changed   map[string]bool           // guarded by mu; IMEIs whose Write was answered 2.04
	nextWrite uint16                    // guarded by mu
}

func startRegServer(t *testing.T) *regServer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(4 << 20)
	s := &regServer{c: c, regAt: map[string]netip.AddrPort{}, seen: map[netip.AddrPort]bool{},
		writes: map[uint16]string{}, changed: map[string]bool{}}
	done := make(chan struct{})
	go func() { defer close(done); s.serve() }()
	t.Cleanup(func() { c.Close(); <-done })
	return s
}

func (s *regServer) addr() string { return s.c.LocalAddr().String() }

func (s *regServer) serve() {
	buf := make([]byte, 2048)
	for {
		n, from, err := s.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		m := message.Message{Options: make(message.Options, 0, 16)}
		if _, err := coder.DefaultCoder.Decode(buf[:n], &m); err != nil {
			continue
		}
		s.handle(&m, from)
	}
}

func (s *regServer) handle(m *message.Message, from netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[from] = true
	path, _ := m.Options.Path()
	path = strings.Trim(path, "/")
	switch {
	case m.Type == message.Acknowledgement:
		if imei, ok := s.writes[uint16(m.MessageID)]; ok && m.Code == codes.Changed {
			s.changed[imei] = true
		}
	case m.Code == codes.POST && path == "rd":
		queries, _ := m.Options.Queries()
		imei := ""
		for _, q := range queries {
			if after, ok := strings.CutPrefix(q, "ep=urn:imei:"); ok {
				imei = after
			}
		}
		s.regAt[imei] = from
		s.reply(m, codes.Created, from, message.Option{ID: message.LocationPath, Value: []byte("rd")},
			message.Option{ID: message.LocationPath, Value: []byte(imei)})
		s.nextWrite++
		s.writes[s.nextWrite] = imei
		s.send(message.Message{Type: message.Confirmable, Code: codes.PUT, MessageID: int32(s.nextWrite),
			Token: []byte{9, 9}, Options: message.Options{{ID: message.URIPath, Value: []byte("33050")},
				{ID: message.URIPath, Value: []byte("0")}}, Payload: []byte("x")}, from)
	case m.Code == codes.POST && strings.HasPrefix(path, "rd/"):
		imei := strings.TrimPrefix(path, "rd/")
		s.updates++
		if s.regAt[imei] != from {
			s.strayed = append(s.strayed, imei)
		}
		s.reply(m, codes.Changed, from)
	}
}

func (s *regServer) reply(req *message.Message, code codes.Code, to netip.AddrPort, opts ...message.Option) {
	s.send(message.Message{Type: message.Acknowledgement, Code: code, MessageID: req.MessageID,
		Token: req.Token, Options: opts}, to)
}

func (s *regServer) send(m message.Message, to netip.AddrPort) {
	size, _ := coder.DefaultCoder.Size(m)
	b := make([]byte, size)
	if _, err := coder.DefaultCoder.Encode(m, b); err == nil {
		s.c.WriteToUDPAddrPort(b, to)
	}
}

// snapshot reads what the server noted.
func (s *regServer) snapshot() (regAt map[string]netip.AddrPort, seen, updates, changed int, strayed []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	regAt = map[string]netip.AddrPort{}
	for k, v := range s.regAt {
		regAt[k] = v
	}
	return regAt, len(s.seen), s.updates, len(s.changed), append([]string(nil), s.strayed...)
}

// TestSources runs Registers then Updates of a fleet against a real UDP
// server and checks what the server saw: as many sources as asked, device
// i always from source i mod N (its Updates from its Register's source),
// with the sockets kept open or opened per exchange, and at most MaxOpen
// sockets open (or as many as requests in flight). Where no socket is
// closed before the server has written to it, every Write to a device's
// Pairing object is answered 2.04; where sockets are closed at once to
// stay under MaxOpen, a Write may find its device asleep, as in a real
// fleet.
func TestSources(t *testing.T) {
	testkit.Long(t, "a fleet against a node")
	const devices = 60
	tests := map[string]struct {
		sources, maxOpen int
		wantSources      int
		allWrites        bool
		shared           int
	}{
		"one per device, kept open":           {AllSources, DefaultMaxOpen, devices, true, 0},
		"seven shared":                        {7, DefaultMaxOpen, 7, true, 0},
		"one per device, opened per exchange": {AllSources, devices - 1, devices, true, 0},
		"one per device, at most five open":   {AllSources, 5, devices, false, 0},
		"more sources than devices":           {devices * 2, 5, devices, false, 0},
		"one per device, one open":            {AllSources, 1, devices, false, 0},
		"shared, opened for each exchange":    {13, 4, 13, false, 0},
		"one per device, on shared sockets":   {AllSources, DefaultMaxOpen, devices, true, 4},
		"seven, on three shared sockets":      {7, DefaultMaxOpen, 7, true, 3},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := startRegServer(t)
			cfg := DefaultConfig()
			cfg.Devices, cfg.Sources, cfg.MaxOpen, cfg.Concurrency = devices, tt.sources, tt.maxOpen, 8
			cfg.Scenario, cfg.Duration, cfg.Awake = Update, 300*time.Millisecond, 30*time.Second
			cfg.SharedSockets = tt.shared
			e, err := dialEngine(srv.addr(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer e.close()
			imeis, _ := IMEIs("35", devices)
			r, err := runScenario(context.Background(), e, cfg, imeis, "test")
			if err != nil || r.Failed() > 0 || r.OK < devices {
				t.Fatalf("%d ok, errors %v, %v", r.OK, r.Errors, err)
			}
			if tt.allWrites {
				testkit.Eventually(t, "every Pairing-object Write answered", func() bool {
					_, _, _, changed, _ := srv.snapshot()
					return changed == devices
				})
			}
			regAt, seen, updates, _, strayed := srv.snapshot()
			if seen != tt.wantSources || len(regAt) != devices {
				t.Errorf("server saw %d sources and %d Registers, want %d and %d", seen, len(regAt), tt.wantSources, devices)
			}
			if updates < devices || len(strayed) > 0 {
				t.Errorf("%d Updates, %d of them from another source than their Register's (devices %.5v)", updates, len(strayed), strayed)
			}
			n := cfg.sources()
			for i := range devices {
				for j := range i {
					if same := regAt[imeis[i]] == regAt[imeis[j]]; same != (i%n == j%n) {
						t.Fatalf("devices %d and %d share a source: %v, want %v (%d sources)", i, j, same, i%n == j%n, n)
					}
				}
			}
			bound := max(tt.maxOpen, cfg.Concurrency)
			if tt.shared > 0 {
				bound = tt.shared
			}
			if r.PeakOpen > bound || r.Setup.PeakOpen > bound {
				t.Errorf("at most %d and %d sockets open at once, want at most %d", r.Setup.PeakOpen, r.PeakOpen, bound)
			}
			t.Logf("%d ok; %d sockets opened for the Registers, %d for the Updates; peak %d open", r.OK, r.Setup.Sockets, r.Sockets, r.PeakOpen)
		})
	}
}

// TestSourceMoves checks the two ways a source leaves its address: an
// address another socket holds is skipped for the next free one, and a
// source that has used all 65,536 message IDs moves to a fresh address
// (its old socket stays open for what is in flight), both counted.
func TestSourceMoves(t *testing.T) {
	for name, maxOpen := range map[string]int{"kept open": DefaultMaxOpen, "per exchange": 1} {
		t.Run(name, func(t *testing.T) {
			srv := startRegServer(t)
			server := netip.MustParseAddrPort(srv.addr())
			// Hold the address the next engine's source 0 would take.
			next := newAddrPlan(server).addr(reserve(0))
			held, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(next))
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			cfg := DefaultConfig()
			cfg.Devices, cfg.Sources, cfg.MaxOpen = 2, AllSources, maxOpen
			e, err := dialEngine(srv.addr(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer e.close()
			ctx := context.Background()
			imei := "350000000000000"
			if _, _, err := e.register(ctx, 0, imei); err != nil {
				t.Fatal(err)
			}
			regAt, _, _, _, _ := srv.snapshot()
			first := regAt[imei]
			if first == next || e.skipped.Load() != 1 {
				t.Fatalf("source 0 registered from %v with %d addresses skipped; want it off the held %v, 1 skipped", first, e.skipped.Load(), next)
			}
			// Use up source 0's message IDs.
			e.mu.Lock()
			if e.keep {
				e.fixed[0].Load().used.Store(1 << 16)
			} else if s := e.open[0]; s != nil {
				s.used.Store(1 << 16)
			} else {
				e.used[0] = 1 << 16
			}
			e.mu.Unlock()
			if _, _, err := e.register(ctx, 0, imei); err != nil {
				t.Fatal(err)
			}
			regAt, _, _, _, _ = srv.snapshot()
			if regAt[imei] == first || e.movedOut.Load() != 1 {
				t.Errorf("after its IDs ran out source 0 registered from %v (before %v), %d moved; want a new address, 1 moved", regAt[imei], first, e.movedOut.Load())
			}
		})
	}
}

// TestAddrPlan checks the addresses of the sources: distinct, ports below
// the ephemeral range and never the server's, on 127.0.0.1 first and
// further loopback addresses after it; ports of one local address when
// the server is not on 127.0.0.0/8.
func TestAddrPlan(t *testing.T) {
	server := netip.MustParseAddrPort("127.0.0.1:15683")
	p := newAddrPlan(server)
	low, _ := ephemeralRange()
	seen := map[netip.AddrPort]bool{}
	n := uint64(3*len(p.ports) + 10)
	for a := range n {
		addr := p.addr(a)
		if seen[addr] {
			t.Fatalf("address %d, %v, handed out twice", a, addr)
		}
		seen[addr] = true
		if !addr.Addr().Is4() || !addr.Addr().IsLoopback() || int(addr.Port()) < sourcePortLow ||
			int(addr.Port()) >= low || addr.Port() == server.Port() {
			t.Fatalf("address %d is %v", a, addr)
		}
	}
	if got := p.addr(0).Addr(); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("first address on %v, want 127.0.0.1", got)
	}
	if got := p.addr(n - 1).Addr(); got != netip.MustParseAddr("127.0.0.4") {
		t.Errorf("address %d on %v, want 127.0.0.4", n-1, got)
	}
	remote := newAddrPlan(netip.MustParseAddrPort("192.0.2.7:5683"))
	if a := remote.addr(5); !a.Addr().IsUnspecified() || remote.capacity() != uint64(len(remote.ports)) {
		t.Errorf("a remote server's sources: %v, %d of them", a, remote.capacity())
	}
	if err := checkSources(netip.MustParseAddrPort("192.0.2.7:5683"), 1000000); err == nil {
		t.Error("a million sources to a remote server were accepted")
	}
	if err := checkSources(server, 1000000); err != nil {
		t.Error(err)
	}
}

// TestSharedSourceMoves checks that a source of the shared sockets moves to
// a fresh IP once it has used all 65,536 message IDs.
func TestSharedSourceMoves(t *testing.T) {
	srv := startRegServer(t)
	cfg := DefaultConfig()
	cfg.Devices, cfg.SharedSockets = 3, 2
	e, err := dialEngine(srv.addr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	ctx := context.Background()
	imei := "350000000000002"
	if _, _, err := e.register(ctx, 2, imei); err != nil {
		t.Fatal(err)
	}
	regAt, _, _, _, _ := srv.snapshot()
	first := regAt[imei]
	e.smids[2].Store(1 << 16)
	if _, _, err := e.register(ctx, 2, imei); err != nil {
		t.Fatal(err)
	}
	regAt, _, _, _, _ = srv.snapshot()
	if moved := regAt[imei]; moved.Addr() == first.Addr() || moved.Port() != first.Port() || e.movedOut.Load() != 1 {
		t.Errorf("source 2 registered from %v, then from %v after its IDs ran out, %d moved; want a new IP on the same port, 1 moved",
			first, moved, e.movedOut.Load())
	}
}
