package fleet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// ServerFigures are the server's own figures over a run, read from its
// /metrics (Prometheus text format) before and after.
type ServerFigures struct {
	// CPU is the server's processor time over the run, in seconds
	// (process_cpu_seconds_total).
	CPU float64
	// RSS is the server's resident memory after the run, in bytes
	// (process_resident_memory_bytes); RSSBefore before it.
	RSS, RSSBefore float64
	// Registrations, Updates, Deregistrations and Paired are what the
	// server counted over the run.
	Registrations, Updates, Deregistrations, Paired float64
}

// Metrics reads the server's /metrics: each sample by its series, the
// metric name with its labels as exposed, e.g.
// `nbpair_activations_total{outcome="paired"}`.
func (a *Admin) Metrics(ctx context.Context) (map[string]float64, error) {
	// /metrics is the Prometheus endpoint, not part of the API the SDK
	// covers: one plain GET with the admin token.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(a.URL, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: HTTP %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the samples of the Prometheus text format; comments
// and lines it cannot read are skipped.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	m := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, '}')
		if i < 0 {
			i = strings.IndexByte(line, ' ')
		} else {
			i++
		}
		if i <= 0 || i >= len(line) {
			continue
		}
		fields := strings.Fields(line[i:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

// serverFigures is what changed between two readings of /metrics.
func serverFigures(before, after map[string]float64) *ServerFigures {
	d := func(k string) float64 { return after[k] - before[k] }
	return &ServerFigures{
		CPU: d("process_cpu_seconds_total"), RSS: after["process_resident_memory_bytes"],
		RSSBefore:     before["process_resident_memory_bytes"],
		Registrations: d("nbpair_registrations_total"), Updates: d("nbpair_updates_total"),
		Deregistrations: d("nbpair_deregistrations_total"), Paired: d(`nbpair_activations_total{outcome="paired"}`),
	}
}
