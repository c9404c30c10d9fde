package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/qr"
)

// batchesPath is the route that imports batches; its body is a CSV.
const batchesPath = "/v1/admin/batches"

// labelSheet is the page the labels of a batch are printed on.
var labelSheet = qr.A4

// importBatch provisions the devices of a CSV body (text/csv, UTF-8) for
// the product ?productId= (the default product when absent): 201 with the
// new batch, or 200 with the batch the same CSV made before.
func (s *Server) importBatch(w http.ResponseWriter, r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "text/csv" {
			return apiError(codeUnsupportedMedia, "send the batch as a CSV body with Content-Type text/csv")
		}
		if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") {
			return apiError(codeUnsupportedMedia, "the batch CSV must be UTF-8, not "+cs)
		}
	}
	data, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return apiError(codeBodyTooLarge, "the CSV is larger than 1 MiB; split it into batches of at most 10000 rows")
	case err != nil:
		return err
	}
	b, created, err := s.svc.ImportBatch(r.Context(), r.URL.Query().Get("productId"), data)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", batchesPath+"/"+b.ID)
	writeJSON(w, status, b)
	return nil
}

func (s *Server) listBatches(w http.ResponseWriter, r *http.Request) error {
	bs, err := s.svc.Batches(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"batches": nonNil(bs)})
	return nil
}

func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) error {
	b, err := s.svc.Batch(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

// batchFactoryCSV answers the factory CSV of a batch: every device with its
// PSK in the clear, so nothing on the way may keep a copy.
func (s *Server) batchFactoryCSV(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	rows, err := s.svc.FactoryRows(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-factory.csv"`, id))
	w.Header().Set("Cache-Control", "no-store")
	return pairing.WriteFactoryCSV(w, rows) // past the header, an error only means the client left
}

// batchLabels answers one sheet (?page=N, from 1) of the batch's labels,
// each the card a single device's label is.
func (s *Server) batchLabels(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	devs, err := s.svc.BatchDevices(r.Context(), id)
	if err != nil {
		return err
	}
	per := labelSheet.PerPage()
	pages := (len(devs) + per - 1) / per
	page := 1
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > pages {
			return apiError(codeParamIllegal, fmt.Sprintf("page must be a number from 1 to %d: the batch's %d labels fill %d sheets of %d",
				pages, len(devs), pages, per))
		}
		page = n
	}
	devs = devs[(page-1)*per : min(page*per, len(devs))]
	texts, err := s.svc.Labels(r.Context(), devs)
	if err != nil {
		return err
	}
	labels := make([]qr.Label, len(texts))
	for i, l := range texts {
		labels[i] = qrLabel(l)
	}
	png, err := labelSheet.EncodePNG(labels)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s-labels-%d.png"`, id, page))
	w.Header().Set("X-Page", strconv.Itoa(page))
	w.Header().Set("X-Total-Pages", strconv.Itoa(pages))
	w.Write(png)
	return nil
}
