package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// Admin calls the admin HTTP API of an nbpair server.
type Admin struct {
	// URL is the base URL, e.g. http://127.0.0.1:8080; Token the admin
	// bearer token.
	URL, Token string
}

// Provision provisions the devices for the product (the default product
// when empty) with one batch import per pairing.MaxBatchRows devices. A
// device provisioned for the product already is taken as it is, so a
// fleet can be run again against the same server.
func (a *Admin) Provision(ctx context.Context, productID string, imeis []string) error {
	for len(imeis) > 0 {
		chunk := imeis[:min(len(imeis), pairing.MaxBatchRows)]
		imeis = imeis[len(chunk):]
		body := "imei\n" + strings.Join(chunk, "\n") + "\n"
		path := "/v1/admin/batches"
		if productID != "" {
			path += "?productId=" + url.QueryEscape(productID)
		}
		if err := a.call(ctx, "POST", path, "text/csv", strings.NewReader(body), nil); err != nil {
			return fmt.Errorf("batch import of %d devices: %w", len(chunk), err)
		}
	}
	return nil
}

// Online counts the devices among imeis that the server lists online.
func (a *Admin) Online(ctx context.Context, imeis []string) (int, error) {
	want := make(map[string]bool, len(imeis))
	for _, imei := range imeis {
		want[imei] = true
	}
	online, after := 0, ""
	for {
		var page struct {
			Devices []struct {
				IMEI   string `json:"imei"`
				Online bool   `json:"online"`
			} `json:"devices"`
			Next string `json:"next"`
		}
		if err := a.call(ctx, "GET", "/v1/admin/devices?limit=1000&after="+url.QueryEscape(after), "", nil, &page); err != nil {
			return 0, err
		}
		for _, d := range page.Devices {
			if d.Online && want[d.IMEI] {
				online++
			}
		}
		if len(page.Devices) == 0 || page.Next == "" {
			return online, nil
		}
		after = page.Next
	}
}

var httpClient = &http.Client{Timeout: 60 * time.Second}

func (a *Admin) call(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(a.URL, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: HTTP %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
