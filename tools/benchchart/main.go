// Command benchchart draws the CSV of `nbpair fleet sweep` as a PNG: the
// Register throughput (the fleet growing, a fixed sample, and the bare UDP
// echo through the same generator) and the p99 latency of the Registers,
// against the number of registered devices.
//
//	go -C tools/benchchart run . -in "$PWD/sweep.csv" -out "$PWD/sweep.png"
//
// It is a module of its own so that the plotting library stays out of the
// nbpair binary and its go.mod.
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func main() {
	in := flag.String("in", "sweep.csv", "CSV written by nbpair fleet sweep")
	out := flag.String("out", "sweep.png", "PNG to write")
	title := flag.String("title", "nbpair Register as the fleet grows", "title of the chart")
	flag.Parse()
	if err := run(*in, *out, *title); err != nil {
		fmt.Fprintln(os.Stderr, "benchchart:", err)
		os.Exit(1)
	}
}

func run(in, out, title string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := readSweep(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	w, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := draw2(rows, title, w); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// row is one step of a sweep.
type row struct {
	devices                               float64
	fillRate, sampleRate, echoRate        float64
	fillP99, sampleP50, sampleP99, rssMiB float64
}

// readSweep reads the columns it draws, by name.
func readSweep(r io.Reader) ([]row, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) < 2 {
		return nil, errors.New("no steps in the CSV")
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	names := []string{"devices", "fill_rate", "sample_rate", "echo_rate", "fill_p99_ms", "sample_p50_ms", "sample_p99_ms", "rss_bytes"}
	for _, n := range names {
		if _, ok := col[n]; !ok {
			return nil, fmt.Errorf("no %s column", n)
		}
	}
	var rows []row
	for i, rec := range recs[1:] {
		v := make([]float64, len(names))
		for j, n := range names {
			if v[j], err = strconv.ParseFloat(rec[col[n]], 64); err != nil {
				return nil, fmt.Errorf("row %d, %s: %w", i+2, n, err)
			}
		}
		rows = append(rows, row{devices: v[0], fillRate: v[1], sampleRate: v[2], echoRate: v[3],
			fillP99: v[4], sampleP50: v[5], sampleP99: v[6], rssMiB: v[7] / (1 << 20)})
	}
	return rows, nil
}

// countTicks marks the powers of ten of an axis as 1, 10, …, 1k, 10k, 1M.
type countTicks struct{}

func (countTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for v := 1.0; v <= max*10; v *= 10 {
		if v < min/10 {
			continue
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: countLabel(v)})
		for k := 2.0; k < 10; k++ {
			t := plot.Tick{Value: v * k}
			if k == 2 || k == 5 {
				t.Label = countLabel(v * k)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

func countLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// draw2 writes a PNG of two charts one above the other: throughput, then
// p99 latency, both against the number of devices (a log scale).
func draw2(rows []row, title string, w io.Writer) error {
	series := func(y func(row) float64) plotter.XYs {
		xy := make(plotter.XYs, len(rows))
		for i, r := range rows {
			xy[i].X, xy[i].Y = r.devices, y(r)
		}
		return xy
	}
	rate := plot.New()
	rate.Title.Text = title
	rate.Y.Label.Text = "Registers per second"
	if err := plotutil.AddLinePoints(rate,
		"fleet growing", series(func(r row) float64 { return r.fillRate }),
		"fixed sample", series(func(r row) float64 { return r.sampleRate }),
		"UDP echo (same generator)", series(func(r row) float64 { return r.echoRate })); err != nil {
		return err
	}
	lat := plot.New()
	lat.Y.Label.Text = "Register latency, ms"
	if err := plotutil.AddLinePoints(lat,
		"p99, fleet growing", series(func(r row) float64 { return r.fillP99 }),
		"p99, fixed sample", series(func(r row) float64 { return r.sampleP99 }),
		"p50, fixed sample", series(func(r row) float64 { return r.sampleP50 })); err != nil {
		return err
	}
	rate.Y.Scale = plot.LogScale{}
	rate.Y.Tick.Marker = countTicks{}
	rate.Y.Label.Text = "Registers per second (log scale)"
	rate.Y.Max *= 3 // room for the legend
	lat.Y.Min = 0
	lat.Y.Max *= 1.3
	for _, p := range []*plot.Plot{rate, lat} {
		p.X.Label.Text = "registered devices"
		p.Legend.Top, p.Legend.Left = true, true
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = countTicks{}
		p.Add(plotter.NewGrid())
	}
	img := vgimg.New(8*vg.Inch, 9*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Centimeter, PadTop: vg.Centimeter / 2, PadBottom: vg.Centimeter / 2,
		PadLeft: vg.Centimeter / 2, PadRight: vg.Centimeter}
	canvases := plot.Align([][]*plot.Plot{{rate}, {lat}}, tiles, dc)
	rate.Draw(canvases[0][0])
	lat.Draw(canvases[1][0])
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}
