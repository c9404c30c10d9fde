// Package app wires nbpair together: store → service → servers, and runs
// them until the context ends, then shuts everything down in order.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"

	"github.com/nbpair/nbpair/internal/coapfront"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/events"
	"github.com/nbpair/nbpair/internal/events/natsbus"
	"github.com/nbpair/nbpair/internal/httpapi"
	"github.com/nbpair/nbpair/internal/lwm2m"
	"github.com/nbpair/nbpair/internal/metrics"
	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/qr"
	"github.com/nbpair/nbpair/internal/store/postgres"
	"github.com/nbpair/nbpair/internal/store/sqlite"
	"github.com/nbpair/nbpair/internal/webhooks"
)

// Files in the data directory besides the database.
const (
	// AdminTokenFile holds the bearer token of the admin API.
	AdminTokenFile = "admin.token"
	// SecretKeyFile holds the key that seals device PSKs at rest.
	SecretKeyFile = "secret.key"
)

// App is a running nbpair node.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	metrics *metrics.Metrics
	store   pairing.Store
	bus     eventBus
	svc     *pairing.Service
	coap    *lwm2m.Server
	hooks   *webhooks.Dispatcher
	http    *http.Server
	httpL   net.Listener
}

// New opens the store and binds the listeners; Run serves.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	token, err := ensureSecretFile(filepath.Join(cfg.DataDir, AdminTokenFile), 32, log,
		"created the admin token; admin requests send 'Authorization: Bearer <token>'")
	if err != nil {
		return nil, err
	}
	secret, err := ensureSecretFile(filepath.Join(cfg.DataDir, SecretKeyFile), pairing.SecretKeyLen, log,
		"created the key that seals device PSKs in the database; back it up with the database, apart from it")
	if err != nil {
		return nil, err
	}
	secretKey, _ := hex.DecodeString(secret)
	a := &App{cfg: cfg, log: log, metrics: metrics.New()}
	if err := a.open(ctx, secretKey); err != nil {
		a.closeOpened(ctx)
		return nil, err
	}
	a.svc.SetDownlinker(a.coap)
	if err := a.startHooks(); err != nil {
		a.closeOpened(ctx)
		return nil, err
	}
	a.metrics.CountOnline(a.svc.OnlineDevices)
	proxies, err := httpapi.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		a.closeOpened(ctx)
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	limits := httpapi.Limits{
		PerUser: cfg.RateLimitPerUser, PerAddr: cfg.RateLimitPerAddr, LoginFailures: cfg.LoginFailures,
		LoginFailuresPerAddr: cfg.LoginFailuresPerAddr,
		TrustedProxies:       proxies,
		Streams:              httpapi.StreamLimits{Max: cfg.MaxStreams, PerUser: cfg.MaxStreamsPerUser, Duration: time.Duration(cfg.HTTPStreamMax)},
		Scan:                 qr.ReaderLimits{MaxDecodedBytes: int64(cfg.QRScanDecodeBytes), Concurrent: cfg.QRScanConcurrent, Queue: cfg.QRScanQueue},
	}
	if pg, ok := a.store.(*postgres.Store); ok { // the nodes on one database share the limits
		limits.Shared = func(name string, n int, per time.Duration) httpapi.Limiter { return pg.RateLimiter(name, n, per) }
	}
	a.http = &http.Server{
		Handler:           httpapi.New(a.svc, log.With("component", "http"), token, limits, a.metrics),
		ReadHeaderTimeout: time.Duration(cfg.HTTPReadHeaderTimeout),
		ReadTimeout:       time.Duration(cfg.HTTPReadTimeout),
		WriteTimeout:      time.Duration(cfg.HTTPWriteTimeout),
		IdleTimeout:       time.Duration(cfg.HTTPIdleTimeout),
		MaxHeaderBytes:    cfg.HTTPMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return a, nil
}

// open opens the bus, the HTTP listener, the store and the CoAP sockets;
// on error, closeOpened closes what it opened.
func (a *App) open(ctx context.Context, secretKey []byte) error {
	cfg, log := a.cfg, a.log
	var err error
	if a.bus, err = openBus(ctx, cfg, log); err != nil {
		return fmt.Errorf("event bus: %w", err)
	}
	if a.httpL, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return fmt.Errorf("http listen %s: %w", cfg.HTTPAddr, err)
	}
	if a.store, err = openStore(ctx, cfg, log); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	a.svc, err = pairing.NewService(a.store, a.bus, log, pairing.Options{
		PublicURL:         cfg.PublicBase(a.HTTPAddr()),
		AwakeWindow:       time.Duration(cfg.AwakeWindow),
		DownlinkAttempts:  cfg.DownlinkAttempts,
		ActivationRecheck: time.Duration(cfg.ActivationRecheck),
		ExpiryGrace:       time.Duration(cfg.ExpiryGrace),
		SessionTTL:        time.Duration(cfg.SessionTTL),
		SecretKey:         secretKey,
		RequireDTLS:       cfg.Profile == config.ProfileProduction,
		Metrics:           a.metrics,
		Cluster:           clusterOf(a.bus),
	})
	if err != nil {
		return err
	}
	a.coap = lwm2m.New(a.svc, log.With("component", "coap"), lwm2m.Config{
		Addr: cfg.CoAPAddr, ACKTimeout: time.Duration(cfg.CoAPACKTimeout), MaxRetransmit: maxRetransmit(cfg.CoAPMaxRetransmit),
		SecureAddr: cfg.CoAPSAddr, HandshakeTimeout: time.Duration(cfg.CoAPSHandshakeTimeout),
		SessionIdle: time.Duration(cfg.CoAPSSessionIdle), MaxHandshakes: cfg.CoAPSMaxHandshakes,
		Registerer: a.metrics.Registry(),
		Front: coapfront.Config{Readers: cfg.CoAPReaders, Workers: cfg.CoAPWorkers, QueueLen: cfg.CoAPQueueLen,
			DedupBytes: cfg.CoAPDedupBytes},
		Block1: lwm2m.Block1Config{MaxBytes: cfg.CoAPBlock1Bytes, MaxTransfers: cfg.CoAPBlock1Transfers},
	})
	a.metrics.ReportFront(func() metrics.FrontStats {
		st := a.coap.FrontStats()
		return metrics.FrontStats{Datagrams: st.Datagrams, DroppedQueueFull: st.DroppedQueueFull,
			DroppedMalformed: st.DroppedMalformed, DroppedPending: st.DroppedPending, Duplicates: st.Duplicates, DedupEvictions: st.DedupEvictions,
			DedupBytes: st.DedupBytes, InFlight: st.InFlight, Retransmissions: st.Retransmissions}
	})
	return a.coap.Listen()
}

func (a *App) closeOpened(ctx context.Context) {
	if a.coap != nil {
		a.coap.Shutdown()
	}
	if a.store != nil {
		a.store.Close()
	}
	if a.httpL != nil {
		a.httpL.Close()
	}
	if a.bus != nil {
		a.bus.Close(ctx)
	}
}

// openStore opens the configured store: PostgreSQL when cfg.Store names a
// database, which several nodes can share, and otherwise SQLite in the data
// directory. The data directory still holds the admin token and the key
// that seals PSKs, whichever the store.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (pairing.Store, error) {
	if cfg.Store == "" {
		minFree := int64(cfg.MinFreeDisk)
		if minFree == 0 {
			minFree = -1 // sqlite.Options: no check
		}
		s, err := sqlite.OpenWith(ctx, cfg.DataDir, sqlite.Options{MinFreeBytes: minFree,
			CheckpointEvery: time.Duration(cfg.SQLiteCheckpoint)})
		if err != nil {
			return nil, err
		}
		log.Info("store: sqlite", "file", filepath.Join(cfg.DataDir, sqlite.FileName))
		return s, nil
	}
	s, err := postgres.Open(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	log.Info("store: postgres", "database", config.RedactedStore(cfg.Store))
	return s, nil
}

// HTTPAddr is the bound HTTP address.
func (a *App) HTTPAddr() string { return a.httpL.Addr().String() }

// CoAPAddr is the bound CoAP/UDP address.
func (a *App) CoAPAddr() string { return a.coap.Addr().String() }

// CoAPSAddr is the bound CoAP-over-DTLS address, empty when DTLS is off.
func (a *App) CoAPSAddr() string {
	if addr := a.coap.SecureAddr(); addr != nil {
		return addr.String()
	}
	return ""
}

// Service is the pairing service, for tests and tools in this module.
func (a *App) Service() *pairing.Service { return a.svc }

// Run serves until ctx is done, then shuts down: listeners closed first so
// nothing new arrives, queued events handled, the store flushed and closed.
func (a *App) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(a.coap.Serve)
	g.Go(func() error {
		a.log.Info("http listening", "addr", a.HTTPAddr(), "public_url", a.cfg.PublicBase(a.HTTPAddr()))
		if err := a.http.Serve(netutil.LimitListener(a.httpL, a.cfg.HTTPMaxConns)); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error { return a.metrics.History().Run(gctx) })
	sweeperDone := make(chan struct{})
	g.Go(func() error {
		defer close(sweeperDone)
		return a.svc.Run(gctx)
	})
	hooksDone := make(chan struct{})
	g.Go(func() error {
		defer close(hooksDone)
		return a.hooks.Run(gctx)
	})
	g.Go(func() error {
		<-gctx.Done()
		<-hooksDone
		return a.shutdown(sweeperDone)
	})
	return g.Wait()
}

func (a *App) shutdown(sweeperDone <-chan struct{}) error {
	a.log.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(a.cfg.ShutdownTimeout))
	defer cancel()
	a.coap.Shutdown()
	if err := a.http.Shutdown(ctx); err != nil {
		a.http.Close() // event streams still open at the deadline
	}
	<-sweeperDone
	// Queued events and downlinks finish before the store closes; if they
	// do not in time, the store stays open rather than fail under them.
	if err := errors.Join(a.bus.Close(ctx), a.svc.Drain(ctx)); err != nil {
		a.log.Error("stopped without closing the store", "err", err)
		return err
	}
	err := a.store.Close()
	a.log.Info("stopped")
	return err
}

// eventBus is the in-process bus or NATS JetStream.
type eventBus interface {
	pairing.Bus
	Close(ctx context.Context) error
}

// clusterOf is the bus as the link to the other nodes: NATS is one, the
// in-process bus of a single node is none.
func clusterOf(b eventBus) pairing.Cluster {
	if c, ok := b.(pairing.Cluster); ok {
		return c
	}
	return nil
}

func openBus(ctx context.Context, cfg config.Config, log *slog.Logger) (eventBus, error) {
	if cfg.NATS == "" {
		return events.New(4, 1024), nil
	}
	log.Info("event bus: NATS JetStream", "url", cfg.NATS)
	return natsbus.New(ctx, cfg.NATS, natsbus.Options{Prefix: cfg.NATSPrefix, Logger: log})
}

// ensureSecretFile returns the hex secret in path, creating it with n
// random bytes (mode 0600) on first start and logging msg.
func ensureSecretFile(path string, n int, log *slog.Logger, msg string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if raw, err := hex.DecodeString(tok); err != nil || len(raw) != n {
			return "", fmt.Errorf("%s: want %d bytes as hex", path, n)
		}
		return tok, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, n)
	rand.Read(raw)
	tok := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	abs, _ := filepath.Abs(path)
	log.Info(msg, "file", abs)
	return tok, nil
}

// maxRetransmit is the configured MAX_RETRANSMIT as lwm2m.Config takes it:
// there zero means the default, and no retransmission is negative.
func maxRetransmit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
