package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/nbpair/nbpair/device"
)

func TestDevicePSKFlags(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "psk")
	if err := os.WriteFile(keyFile, []byte("00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	tests := map[string]struct {
		server, psk, pskFile string
		want                 []byte
		err                  bool
	}{
		"key from a file":         {server: "coaps://127.0.0.1:5684", pskFile: keyFile, want: want},
		"key on the command line": {server: "coaps://127.0.0.1:5684", psk: "00112233445566778899aabbccddeeff", want: want},
		"both":                    {server: "coaps://127.0.0.1:5684", psk: "00", pskFile: keyFile, err: true},
		"missing file":            {server: "coaps://127.0.0.1:5684", pskFile: keyFile + ".nope", err: true},
		"DTLS without a key":      {server: "coaps://127.0.0.1:5684", err: true},
		"a key for plain CoAP":    {server: "coap://127.0.0.1:5683", pskFile: keyFile, err: true},
		"plain CoAP needs no key": {server: "coap://127.0.0.1:5683"},
		"not hex":                 {server: "coaps://127.0.0.1:5684", psk: "secret", err: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f := &deviceFlags{psk: tt.psk, pskFile: tt.pskFile}
			f.cfg.Server = tt.server
			got, err := f.pskBytes()
			if (err != nil) != tt.err || !bytes.Equal(got, tt.want) {
				t.Errorf("got %x, %v; want %x, error %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestDeviceContentFormatFlag(t *testing.T) {
	fs, f := newDeviceFlags()
	if err := fs.Parse([]string{"--imei", "490154203237518", "--ct", "110"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config(&bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PreferredFormat != 110 {
		t.Errorf("PreferredFormat = %d, want 110", cfg.PreferredFormat)
	}
	if _, err := device.New(cfg); err != nil {
		t.Errorf("New: %v", err)
	}
	cfg.PreferredFormat = 40
	if _, err := device.New(cfg); err == nil {
		t.Error("New accepted --ct 40 (link format is not a data format)")
	}
}
