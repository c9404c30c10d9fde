package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, func(k string) string { return env[k] })
}

func TestLoadOrder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nbpair.json")
	if err := os.WriteFile(file, []byte(`{"dataDir": "from-file", "httpAddr": ":9000", "coapAddr": ":6000", "awakeWindow": "30s"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(Config) bool
	}{
		{"defaults", nil, nil, func(c Config) bool {
			return c.DataDir == "nbpair-data" && c.HTTPAddr == ":8080" && c.CoAPAddr == ":5683"
		}},
		{"file over defaults", []string{"--config", file}, nil, func(c Config) bool {
			return c.DataDir == "from-file" && c.HTTPAddr == ":9000" && time.Duration(c.AwakeWindow) == 30*time.Second && c.LogLevel == "info"
		}},
		{"file named by env", nil, map[string]string{"NBPAIR_CONFIG": file}, func(c Config) bool { return c.DataDir == "from-file" }},
		{"env over file", []string{"--config=" + file}, map[string]string{"NBPAIR_DATA_DIR": "from-env", "NBPAIR_AWAKE_WINDOW": "5s"}, func(c Config) bool {
			return c.DataDir == "from-env" && c.HTTPAddr == ":9000" && time.Duration(c.AwakeWindow) == 5*time.Second
		}},
		{"flags over env", []string{"--config", file, "--data-dir", "from-flag", "--coap-addr", "127.0.0.1:0"}, map[string]string{"NBPAIR_DATA_DIR": "from-env"}, func(c Config) bool {
			return c.DataDir == "from-flag" && c.CoAPAddr == "127.0.0.1:0" && c.HTTPAddr == ":9000"
		}},
		{"front knobs", []string{"--coap-workers", "3", "--coap-dedup-bytes", "1048576", "--coap-block1-bytes", "131072"}, map[string]string{"NBPAIR_COAP_READERS": "4", "NBPAIR_COAP_QUEUE_LEN": "99", "NBPAIR_COAP_BLOCK1_TRANSFERS": "7"}, func(c Config) bool {
			return c.CoAPReaders == 4 && c.CoAPWorkers == 3 && c.CoAPQueueLen == 99 && c.CoAPDedupBytes == 1<<20 &&
				c.CoAPBlock1Bytes == 128<<10 && c.CoAPBlock1Transfers == 7
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("got %+v", c)
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.json")
	os.WriteFile(unknown, []byte(`{"dataDirectory": "x"}`), 0o600)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // the field the error must name
	}{
		{"bad http addr", []string{"--http-addr", "8080"}, nil, "httpAddr"},
		{"bad port", []string{"--coap-addr", ":70000"}, nil, "coapAddr"},
		{"bad public url", []string{"--public-url", "ftp://x"}, nil, "publicUrl"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "logLevel"},
		{"no workers", []string{"--coap-workers", "0"}, nil, "coapWorkers"},
		{"tiny duplicate cache", []string{"--coap-dedup-bytes", "1000"}, nil, "coapDedupBytes"},
		{"no block-wise transfers", []string{"--coap-block1-transfers", "0"}, nil, "coapBlock1Transfers"},
		{"bad duration in env", nil, map[string]string{"NBPAIR_AWAKE_WINDOW": "soon"}, "NBPAIR_AWAKE_WINDOW"},
		{"unknown field in file", []string{"--config", unknown}, nil, "dataDirectory"},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.json")}, nil, "nope.json"},
		{"unknown flag", []string{"--colour"}, nil, "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestPublicBase(t *testing.T) {
	c := Default()
	if got := c.PublicBase("[::]:8080"); got != "http://localhost:8080" {
		t.Errorf("derived from a wildcard address: %q", got)
	}
	if got := c.PublicBase("127.0.0.1:4000"); got != "http://127.0.0.1:4000" {
		t.Errorf("derived from a bound address: %q", got)
	}
	c.PublicURL = "https://pair.example.com/"
	if got := c.PublicBase("127.0.0.1:4000"); got != "https://pair.example.com" {
		t.Errorf("configured: %q", got)
	}
}
