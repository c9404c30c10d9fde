package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/qr"
)

// deviceLabel renders the device's label as a PNG card (?size=WIDTH in
// pixels; the height follows): its QR code, and under it the product, the
// device's name or serial, its short code and its URL.
func (s *Server) deviceLabel(w http.ResponseWriter, r *http.Request) error {
	size := 0
	if v := r.URL.Query().Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 300 || n > 4096 {
			return apiError(codeParamIllegal, "size must be a width in pixels from 300 to 4096")
		}
		size = n
	}
	l, err := s.svc.DeviceLabel(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	png, err := qrLabel(l).EncodePNG(size, 0)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s.png"`, l.DeviceID))
	w.Write(png)
	return nil
}

// qrLabel is the card that prints l.
func qrLabel(l pairing.LabelText) qr.Label {
	return qr.Label{Text: l.QR, Product: l.Product, Name: l.Name, Code: l.ShortCode}
}

// scanResult is a parsed label with the text read from the image.
type scanResult struct {
	pairing.ScanResult
	Code string `json:"code"`
}

// scanLimits fills in what l leaves zero: qr's default decoding budget
// and two images decoding at once.
func scanLimits(l qr.ReaderLimits) qr.ReaderLimits {
	if l.MaxDecodedBytes <= 0 {
		l.MaxDecodedBytes = qr.DefaultMaxDecodedBytes
	}
	if l.Concurrent <= 0 {
		l.Concurrent = 2
	}
	if l.Queue < 0 {
		l.Queue = 0
	}
	return l
}

// scanRetryAfter is the Retry-After, in seconds, of a scan refused because
// the reader is full: about what one large photo takes to read.
const scanRetryAfter = "2"

// scanQRCode reads the QR code in an uploaded photo or image of a label
// (the body: image/png, image/jpeg or image/gif, up to 10 MiB, its pixels
// within the decoding budget) and parses it. Photos are read a few at a
// time; when as many are waiting as may, the answer is 503 (5032) with
// Retry-After.
func (s *Server) scanQRCode(w http.ResponseWriter, r *http.Request) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "image/png", "image/jpeg", "image/gif":
	default:
		return apiError(codeNotAnImage, "send the photo of the label as the body, with Content-Type image/png, image/jpeg or image/gif")
	}
	text, err := s.scanner.Decode(r.Context(), r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, qr.ErrBusy):
		w.Header().Set("Retry-After", scanRetryAfter)
		return apiError(codeBusy, "the server is reading as many label photos as it can at once; try again in "+scanRetryAfter+" s")
	case errors.As(err, &tooBig):
		return apiError(codeBodyTooLarge, "the image is larger than 10 MiB; send a smaller photo")
	case errors.Is(err, qr.ErrNoCode):
		return apiError(codeNoQRCode, "no QR code could be read in the image; take the photo closer, in focus, with the whole label in view")
	case err != nil:
		return err
	}
	res, err := s.svc.ParseQRCode(r.Context(), text)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, scanResult{ScanResult: res, Code: text})
	return nil
}
