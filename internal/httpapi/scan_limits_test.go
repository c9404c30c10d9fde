package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/testkit"
)

// zeroPNG builds a PNG of w×h pixels of the given bit depth and colour
// type (6: RGBA) whose pixels are all zero, row by row, so that even a
// huge image costs the test only its compressed size: 8000×6000 at 16 bits
// is 384 MB of pixels in 2.4 MB of file.
func zeroPNG(t testing.TB, w, h int, depth, colorType byte) []byte {
	t.Helper()
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		io.WriteString(c, typ)
		c.Write(data)
		out.WriteString(typ)
		out.Write(data)
		binary.Write(&out, binary.BigEndian, c.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = depth, colorType
	chunk("IHDR", ihdr)
	channels := map[byte]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colorType]
	raw := h * (1 + (w*channels*int(depth)+7)/8) // each row: filter byte 0, then zero pixels
	chunk("IDAT", zlibZeros(raw))
	chunk("IEND", nil)
	return out.Bytes()
}

// zlibZeros is the zlib stream of n zero bytes, written by hand: a literal
// zero, then back-references of 258 bytes at distance 1, in one block of
// fixed Huffman codes (RFC 1951, 3.2.6). Compressing hundreds of MB of
// zeros with compress/zlib takes a minute under the race detector.
func zlibZeros(n int) []byte {
	var out []byte
	var acc uint64
	var nbits uint
	bits := func(v uint64, k uint) { // LSB first
		acc |= v << nbits
		nbits += k
		for nbits >= 8 {
			out = append(out, byte(acc))
			acc >>= 8
			nbits -= 8
		}
	}
	code := func(c uint64, k uint) { // Huffman codes go MSB first
		var r uint64
		for i := range k {
			r |= (c >> i & 1) << (k - 1 - i)
		}
		bits(r, k)
	}
	out = append(out, 0x78, 0x01)
	bits(1, 1)    // BFINAL
	bits(1, 2)    // fixed Huffman codes
	code(0x30, 8) // the literal 0
	left := n - 1
	for ; left >= 258; left -= 258 {
		code(0xC5, 8) // length 258 (code 285)
		code(0, 5)    // distance 1
	}
	for ; left > 0; left-- {
		code(0x30, 8)
	}
	code(0, 7) // end of block
	if nbits > 0 {
		out = append(out, byte(acc))
	}
	adler := uint32(n%65521)<<16 | 1
	return binary.BigEndian.AppendUint32(out, adler)
}

// scanAnswer is the status, code and Retry-After of one upload.
type scanAnswer struct {
	status, code int
	retryAfter   string
}

// uploadAll sends each image to POST /v1/qrcode:scan at once, each on its
// own connection, and returns the answers.
func uploadAll(t *testing.T, n *apptest.Node, token string, images [][]byte) []scanAnswer {
	t.Helper()
	answers := make([]scanAnswer, len(images))
	var wg sync.WaitGroup
	for i, img := range images {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", "http://"+n.HTTPAddr()+"/v1/qrcode:scan", bytes.NewReader(img))
			req.Header.Set("Content-Type", "image/png")
			req.Header.Set("Authorization", "Bearer "+token)
			req.Close = true
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var e struct{ Code int }
			decodeBody(resp.Body, &e)
			answers[i] = scanAnswer{resp.StatusCode, e.Code, resp.Header.Get("Retry-After")}
		})
	}
	wg.Wait()
	return answers
}

// The finding: a 370 KB PNG of 8000×6000 16-bit pixels passed the pixel
// cap and decoded into 384 MB; three at once took gigabytes. Now the
// decoded size is read from the header and refused before any pixel is
// decoded, so the server's memory does not grow with such uploads.
func TestScanDecompressionBomb(t *testing.T) {
	n := apptest.Start(t, "", apptest.QuietLogs)
	tok := signUpToken(t, n, "bomber")
	bomb := zeroPNG(t, 8000, 6000, 16, 6)
	t.Logf("the bomb: %d bytes of PNG, %d MB of pixels", len(bomb), 8000*6000*8/1_000_000)
	images := [][]byte{bomb, bomb, bomb}

	resetPeak(t)
	before := residentBytes(t)
	answers := uploadAll(t, n, tok, images)
	peak, after := peakBytes(t)-before, residentBytes(t)-before
	t.Logf("answers %v; resident memory: peak +%d MiB, after +%d MiB", answers, peak/mib, after/mib)
	for _, a := range answers {
		if a.status != http.StatusRequestEntityTooLarge || a.code != 4013 {
			t.Errorf("a bomb was answered %d (%d), want 413 (4013)", a.status, a.code)
		}
	}
	if peak > 64*mib {
		t.Errorf("three bombs at once raised the peak of resident memory by %d MiB, want at most 64 MiB", peak/mib)
	}
}

// Uploads are read a few at a time: with one decoding and one waiting,
// two uploads still sending their bodies hold both places, so the next is
// refused at once with 503 (5032) and Retry-After, not queued without
// bound; exactly two are read, and once they finish, uploads are taken
// again.
func TestScanQueueRefusesWhenFull(t *testing.T) {
	n := apptest.Start(t, "", apptest.QuietLogs, func(c *config.Config) {
		c.QRScanConcurrent, c.QRScanQueue, c.RateLimitPerUser, c.RateLimitPerAddr = 1, 1, 0, 0
	})
	tok := signUpToken(t, n, "photographer")
	img := zeroPNG(t, 64, 64, 8, 0)
	// Uploads on raw connections send their header and the first bytes
	// of the image, then stall, holding their place. One more stalls
	// before each probe, until the stalled ones hold both places and a
	// probe is refused (a stalled upload that came while a probe held a
	// place is refused itself).
	var stalled []net.Conn
	stall := func() {
		conn, err := net.Dial("tcp", n.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "POST /v1/qrcode:scan HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n", tok, len(img))
		conn.Write(img[:20])
		stalled = append(stalled, conn)
	}
	var refused scanAnswer
	testkit.Eventually(t, "an upload refused while two are held", func() bool {
		if len(stalled) < 20 {
			stall()
		}
		refused = uploadAll(t, n, tok, [][]byte{img})[0]
		return refused.status == http.StatusServiceUnavailable
	})
	if refused.code != 5032 || refused.retryAfter == "" {
		t.Errorf("the refusal: %+v, want code 5032 with Retry-After", refused)
	}
	statuses := map[int]int{}
	for _, conn := range stalled {
		conn.Write(img[20:])
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	if statuses[http.StatusUnprocessableEntity] != 2 || statuses[http.StatusServiceUnavailable] != len(stalled)-2 {
		t.Errorf("the %d stalled uploads were answered %v; want two read (422, no code in a blank image), the rest 503", len(stalled), statuses)
	}
	if a := uploadAll(t, n, tok, [][]byte{img})[0]; a.status != http.StatusUnprocessableEntity {
		t.Errorf("an upload after the queue emptied: %+v, want 422", a)
	}
}

// The finding: photos decoded without a concurrency limit, so memory grew
// with every upload at once. Eight 12-megapixel photos (within the
// decoding budget each) sent at once now decode two at a time, with four
// more waiting and the rest refused, so the server's peak memory is that
// of two decodes, not eight.
func TestScanConcurrentPhotosBounded(t *testing.T) {
	testkit.Long(t, "eight 12-megapixel photos at once")
	n := apptest.Start(t, "", apptest.QuietLogs)
	tok := signUpToken(t, n, "photographer")
	photo := zeroPNG(t, 4000, 3000, 8, 0)
	images := make([][]byte, 8)
	for i := range images {
		images[i] = photo
	}
	resetPeak(t)
	before := residentBytes(t)
	answers := uploadAll(t, n, tok, images)
	peak := peakBytes(t) - before
	codes := map[int]int{}
	for _, a := range answers {
		codes[a.code]++
	}
	t.Logf("eight 12-megapixel photos at once: answers by code %v; resident memory peak +%d MiB", codes, peak/mib)
	if codes[4103]+codes[5032] != len(images) {
		t.Errorf("answers other than 4103 (no code) and 5032 (busy): %v", codes)
	}
	if peak > 384*mib {
		t.Errorf("the peak of resident memory rose by %d MiB, want at most 384 MiB (two decodes, under the race detector)", peak/mib)
	}
}
