package device

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewRejectsBadConfig(t *testing.T) {
	good := Config{Server: "coap://127.0.0.1:5683", IMEI: testIMEI}
	tests := map[string]struct {
		edit func(*Config)
		want string // in the error text
	}{
		"no IMEI":                {func(c *Config) { c.IMEI = "" }, "IMEI"},
		"short IMEI":             {func(c *Config) { c.IMEI = "12345" }, "IMEI"},
		"no server":              {func(c *Config) { c.Server = "" }, "Server is required"},
		"DTLS":                   {func(c *Config) { c.Server = "coaps://example.com" }, "coaps"},
		"HTTP":                   {func(c *Config) { c.Server = "http://example.com" }, "coap://host:port"},
		"bare host":              {func(c *Config) { c.Server = "example.com:5683" }, "coap://host:port"},
		"path":                   {func(c *Config) { c.Server = "coap://example.com/rd" }, "path"},
		"short lifetime":         {func(c *Config) { c.Lifetime = 500 * time.Millisecond }, "Lifetime"},
		"endpoint with space":    {func(c *Config) { c.Endpoint = "my device" }, "Endpoint"},
		"product with ampersand": {func(c *Config) { c.ProductID = "p&1" }, "ProductID"},
		"sleep without queue":    {func(c *Config) { c.SleepTime = time.Second }, "need QueueMode"},
		"negative awake":         {func(c *Config) { c.QueueMode, c.AwakeTime = true, -time.Second }, "negative"},
		"too many retransmits":   {func(c *Config) { c.MaxRetransmit = 11 }, "MaxRetransmit"},
		"preferred format text":  {func(c *Config) { c.PreferredFormat = 0 + 1541 }, "PreferredFormat"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			_, err := New(cfg)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() = %v, want an ErrConfig naming %q", err, tt.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := New(Config{Server: "coap://[::1]", IMEI: testIMEI, QueueMode: true})
	if err != nil {
		t.Fatal(err)
	}
	s := c.cfg
	checks := map[string][2]any{
		"addr":            {s.addr, "[::1]:5683"},
		"endpoint":        {s.Endpoint, "urn:imei:" + testIMEI},
		"serial":          {s.SerialNumber, testIMEI},
		"lifetime":        {s.Lifetime, DefaultLifetime},
		"max wait":        {s.maxTransmitWait(), 93 * time.Second},
		"awake":           {s.AwakeTime, 93 * time.Second},
		"binding":         {s.binding(), "UQ"},
		"refresh at 300s": {s.refreshInterval(), 207 * time.Second},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
}

func TestRefreshInterval(t *testing.T) {
	tests := map[string]struct {
		lifetime time.Duration
		want     time.Duration
	}{
		"one second":      {time.Second, 500 * time.Millisecond},
		"a minute":        {time.Minute, 30 * time.Second},
		"fractions drop":  {90*time.Second + 900*time.Millisecond, 45 * time.Second},
		"five minutes":    {5 * time.Minute, 207 * time.Second},
		"the LwM2M value": {24 * time.Hour, 24*time.Hour - 93*time.Second},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := newSettings(Config{Server: "coap://h", IMEI: testIMEI, Lifetime: tt.lifetime})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.refreshInterval(); got != tt.want {
				t.Errorf("refreshInterval() = %v, want %v", got, tt.want)
			}
		})
	}
}
