package fleet

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/internal/pairing"
)

// Admin calls the admin HTTP API of an nbpair server, through the SDK's
// admin client.
type Admin struct {
	// URL is the base URL, e.g. http://127.0.0.1:8080; Token the admin
	// bearer token.
	URL, Token string
}

// httpClient bounds every admin call of a fleet: none is long-lived.
var httpClient = &http.Client{Timeout: 60 * time.Second}

// sdk is the SDK's admin client for a's server.
func (a *Admin) sdk() *activator.Admin {
	return activator.NewAdminClient(a.URL, a.Token, activator.WithHTTPClient(httpClient))
}

// Provision provisions the devices for the product (the default product
// when empty) with one batch import per pairing.MaxBatchRows devices. A
// device provisioned for the product already is taken as it is, so a
// fleet can be run again against the same server. It returns the batch
// IDs.
func (a *Admin) Provision(ctx context.Context, productID string, imeis []string) ([]string, error) {
	sdk := a.sdk()
	var ids []string
	for len(imeis) > 0 {
		chunk := imeis[:min(len(imeis), pairing.MaxBatchRows)]
		imeis = imeis[len(chunk):]
		body := "imei\n" + strings.Join(chunk, "\n") + "\n"
		b, _, err := sdk.ImportBatch(ctx, productID, strings.NewReader(body))
		if err != nil {
			return ids, fmt.Errorf("batch import of %d devices: %w", len(chunk), err)
		}
		ids = append(ids, b.ID)
	}
	return ids, nil
}

// FactoryRow is one device of a batch's factory CSV, as the fleet uses it.
type FactoryRow struct {
	IMEI, PSKIdentity string
	PSK               []byte
	DeviceID, NbID    string
}

// ProvisionRows provisions the devices as Provision does and returns
// their rows of the batches' factory CSVs, in the order of imeis. A device
// provisioned before in another batch is not in these; it is an error.
func (a *Admin) ProvisionRows(ctx context.Context, productID string, imeis []string) ([]FactoryRow, error) {
	ids, err := a.Provision(ctx, productID, imeis)
	if err != nil {
		return nil, err
	}
	byIMEI := make(map[string]FactoryRow, len(imeis))
	for _, id := range ids {
		rows, err := a.FactoryCSV(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			byIMEI[r.IMEI] = r
		}
	}
	out := make([]FactoryRow, len(imeis))
	for i, imei := range imeis {
		r, ok := byIMEI[imei]
		if !ok {
			return nil, fmt.Errorf("device %s was provisioned before in another batch; choose another IMEI base", imei)
		}
		out[i] = r
	}
	return out, nil
}

// FactoryCSV reads the factory CSV of a batch: the devices' keys and
// pairing IDs.
func (a *Admin) FactoryCSV(ctx context.Context, batchID string) ([]FactoryRow, error) {
	body, err := a.sdk().FactoryCSV(ctx, batchID)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return readFactoryCSV(body)
}

// readFactoryCSV reads the columns the fleet needs from a factory CSV.
func readFactoryCSV(r io.Reader) ([]FactoryRow, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("factory CSV: %w", err)
	}
	if len(recs) == 0 {
		return nil, errors.New("factory CSV: empty")
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	for _, name := range []string{"imei", "pskIdentity", "psk", "id", "nbId"} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("factory CSV: no %s column", name)
		}
	}
	rows := make([]FactoryRow, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		psk, err := hex.DecodeString(rec[col["psk"]])
		if err != nil {
			return nil, fmt.Errorf("factory CSV: PSK of %s: %w", rec[col["imei"]], err)
		}
		rows = append(rows, FactoryRow{IMEI: rec[col["imei"]], PSKIdentity: rec[col["pskIdentity"]], PSK: psk,
			DeviceID: rec[col["id"]], NbID: rec[col["nbId"]]})
	}
	return rows, nil
}

// Online counts the devices among imeis that the server lists online.
func (a *Admin) Online(ctx context.Context, imeis []string) (int, error) {
	want := make(map[string]bool, len(imeis))
	for _, imei := range imeis {
		want[imei] = true
	}
	sdk := a.sdk()
	online, q := 0, activator.DeviceQuery{Limit: 1000}
	for {
		page, err := sdk.Devices(ctx, q)
		if err != nil {
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
		q.After = page.Next
	}
}
