package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sweepCSV = `devices,fill_rate,fill_p50_ms,fill_p99_ms,fill_failed,sample_rate,sample_p50_ms,sample_p99_ms,sample_failed,echo_rate,rss_bytes,heap_bytes
10000,1500.0,40.1,120.5,0,1400.0,41.0,110.2,0,30000.0,52428800.0,20000000.0
100000,1450.0,42.0,130.0,0,1390.0,43.0,115.0,0,29000.0,104857600.0,60000000.0
1000000,1400.0,44.0,140.0,0,1380.0,45.0,118.0,0,31000.0,524288000.0,300000000.0
`

// The chart of a sweep CSV is a valid PNG of the size asked.
func TestChart(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "sweep.csv"), filepath.Join(dir, "sweep.png")
	if err := os.WriteFile(in, []byte(sweepCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(in, out, "test"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X < 400 || sz.Y < 400 {
		t.Errorf("image of %v, want a chart-sized one", sz)
	}
}

func TestBadCSV(t *testing.T) {
	for name, text := range map[string]string{
		"empty":          "",
		"header only":    strings.SplitN(sweepCSV, "\n", 2)[0] + "\n",
		"missing column": "devices,fill_rate\n1,2\n",
		"not a number":   strings.Replace(sweepCSV, "1500.0", "fast", 1),
	} {
		if _, err := readSweep(strings.NewReader(text)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
