package activator

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// ImportBatch provisions the devices of a factory CSV (UTF-8, at most
// 1 MiB; see the README for its columns) for the product productID, or
// the server's default product when it is empty. created is false when
// the same CSV was imported before: the answer is that batch, and nothing
// was provisioned now. Bad rows are a CodeCSVRowInvalid error, and then
// nothing was imported.
func (a *Admin) ImportBatch(ctx context.Context, productID string, csv io.Reader) (b Batch, created bool, err error) {
	v := url.Values{}
	setNonEmpty(v, "productId", productID)
	path := withQuery("/v1/admin/batches", v)
	resp, err := a.c.sendBody(ctx, http.MethodPost, path, csv, "text/csv", "application/json")
	if err != nil {
		return Batch{}, false, err
	}
	if err := decodeAnswer(resp, maxAdminAnswer, &b, http.MethodPost, path); err != nil {
		return Batch{}, false, err
	}
	return b, resp.StatusCode == http.StatusCreated, nil
}

// Batches lists the batches, oldest first.
func (a *Admin) Batches(ctx context.Context) ([]Batch, error) {
	var out struct {
		Batches []Batch `json:"batches"`
	}
	err := a.do(ctx, http.MethodGet, "/v1/admin/batches", nil, &out)
	return out.Batches, err
}

// Batch returns a batch.
func (a *Admin) Batch(ctx context.Context, id string) (Batch, error) {
	var b Batch
	err := a.do(ctx, http.MethodGet, batchPath(id), nil, &b)
	return b, err
}

// FactoryCSV returns the factory CSV of a batch, for flashing: every
// device with its DTLS key in the clear, so keep it safe. The caller reads
// and closes it; it may be as large as the batch (10000 devices).
func (a *Admin) FactoryCSV(ctx context.Context, id string) (io.ReadCloser, error) {
	resp, err := a.c.send(ctx, http.MethodGet, batchPath(id)+"/factory.csv", nil, "text/csv")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// BatchLabels returns one printable sheet (A4) of a batch's labels: page
// counts from 1; 0 is the first. A page past the last is a
// CodeRemoteAPIParamIllegal error; LabelSheet.Pages says how many there are.
func (a *Admin) BatchLabels(ctx context.Context, id string, page int) (LabelSheet, error) {
	v := url.Values{}
	if page != 0 {
		v.Set("page", strconv.Itoa(page))
	}
	resp, err := a.c.send(ctx, http.MethodGet, withQuery(batchPath(id)+"/labels.png", v), nil, "image/png")
	if err != nil {
		return LabelSheet{}, err
	}
	s := LabelSheet{}
	s.Page, err = strconv.Atoi(resp.Header.Get("X-Page"))
	if err == nil {
		s.Pages, err = strconv.Atoi(resp.Header.Get("X-Total-Pages"))
	}
	if err != nil {
		resp.Body.Close()
		return LabelSheet{}, fmt.Errorf("activator: the server did not say which page of how many the labels are: %w", err)
	}
	s.PNG, err = readCapped(resp, maxImage, "label sheet")
	return s, err
}

func batchPath(id string) string { return "/v1/admin/batches/" + url.PathEscape(id) }
