package lwm2m

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/nbpair/nbpair/internal/wire"
)

// objectList is a link-format list of n objects beside the Pairing
// object, as a device with many objects announces it.
func objectList(n int) (string, []string) {
	links := []string{"</33050/0>"}
	want := []string{"/33050/0"}
	for i := range n {
		links = append(links, fmt.Sprintf("</%d/0>", 3300+i))
		want = append(want, fmt.Sprintf("/%d/0", 3300+i))
	}
	return strings.Join(links, ","), want
}

// blockDatagram encodes block num of a CON Register of imei whose whole
// payload is body, in blocks of 16 << szx bytes, with extra options
// (numbered above Block1) appended.
func blockDatagram(t testing.TB, mid uint16, imei string, body []byte, num uint32, szx uint8, extra ...message.Option) []byte {
	t.Helper()
	return postBlock(t, mid, message.Options{
		{ID: message.URIPath, Value: []byte("rd")},
		{ID: message.ContentFormat, Value: []byte{byte(message.AppLinkFormat)}},
		{ID: message.URIQuery, Value: []byte("ep=urn:imei:" + imei)},
		{ID: message.URIQuery, Value: []byte("lt=300")},
	}, body, num, szx, extra...)
}

// postBlock encodes block num of a CON POST with opts (numbered below
// Block1) whose whole payload is body, in blocks of 16 << szx bytes, with
// extra options (numbered above Block1) appended.
func postBlock(t testing.TB, mid uint16, opts message.Options, body []byte, num uint32, szx uint8, extra ...message.Option) []byte {
	t.Helper()
	size := 16 << szx
	start := min(int(num)*size, len(body))
	end := min(start+size, len(body))
	b := block1{num: num, more: end < len(body), szx: szx}
	opts = append(append(slices.Clone(opts), message.Option{ID: message.Block1, Value: b.encode()}), extra...)
	m := message.Message{Type: message.Confirmable, Code: codes.POST, MessageID: int32(mid), Token: []byte{byte(mid), 1},
		Options: opts, Payload: body[start:end]}
	buf := make([]byte, 2048)
	n, err := coder.DefaultCoder.Encode(m, buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

// block1Of returns the Block1 option of a response.
func block1Of(t testing.TB, m message.Message) block1 {
	t.Helper()
	v, err := m.Options.GetBytes(message.Block1)
	if err != nil && !m.Options.HasOption(message.Block1) {
		t.Fatalf("response %v has no Block1 option", m.Code)
	}
	b, err := parseBlock1(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recvResponse returns the next response the device gets, passing over
// the downlinks that the server may send it once it is registered.
func (d *device) recvResponse() ([]byte, message.Message) {
	d.t.Helper()
	for {
		b, m := d.recv()
		if m.Code >= 64 {
			return b, m
		}
	}
}

// registerInBlocks sends body as a Register in blocks of 16 << szx bytes,
// checks each 2.31 Continue, and returns the final response.
func registerInBlocks(t testing.TB, d *device, mid uint16, imei string, body []byte, szx uint8) message.Message {
	t.Helper()
	blocks := (len(body) + 16<<szx - 1) / (16 << szx)
	for num := range uint32(blocks) {
		d.send(blockDatagram(t, mid+uint16(num), imei, body, num, szx))
		_, resp := d.recvResponse()
		if resp.MessageID != int32(mid+uint16(num)) {
			t.Fatalf("block %d: answer to message %d", num, resp.MessageID)
		}
		got := block1Of(t, resp)
		if got.num != num || got.szx != szx || got.more != (int(num) < blocks-1) {
			t.Fatalf("block %d: Block1 echoed %+v", num, got)
		}
		if int(num) == blocks-1 {
			return resp
		}
		if resp.Code != codes.Continue {
			t.Fatalf("block %d of %d: answered %v %q, want 2.31", num, blocks, resp.Code, resp.Payload)
		}
	}
	panic("unreachable")
}

// waitObjects polls until the device's registration lists want.
func waitObjects(t testing.TB, s *Server, imei string, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := s.svc.DeviceStatus(context.Background(), imei)
		if err == nil && st.Registration != nil && strings.Join(st.Registration.Objects, ",") == strings.Join(want, ",") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("registration of %s: %+v, %v; want objects %q", imei, st.Registration, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A Register whose link-format list comes in Block1 blocks of 16 or 64
// bytes is answered 2.31 for each block but the last, and registers with
// every object once the last is in.
func TestBlock1Register(t *testing.T) {
	s, svc, m := startServer(t, Config{})
	body, want := objectList(40)
	for name, szx := range map[string]uint8{"16 bytes": 0, "64 bytes": 2} {
		t.Run(name, func(t *testing.T) {
			imei := fmt.Sprintf("86800000000030%d", szx)
			provision(t, svc, imei)
			d := dialDevice(t, s)
			before := m.registers.Load()
			resp := registerInBlocks(t, d, 100, imei, []byte(body), szx)
			if resp.Code != codes.Created {
				t.Fatalf("last block answered %v %q, want 2.01", resp.Code, resp.Payload)
			}
			if loc, _ := resp.Options.LocationPath(); len(loc) < 4 {
				t.Fatalf("Location-Path %q", loc)
			}
			waitObjects(t, s, imei, want)
			if n := m.registers.Load() - before; n != 1 {
				t.Fatalf("%d Registers processed, want 1", n)
			}
		})
	}
	if st := s.BlockStats(); st.InProgress != 0 || st.Bytes != 0 || st.Completed != 2 {
		t.Fatalf("after the transfers: %+v", st)
	}
}

// An Update and a Send whose payloads come in blocks are handled whole:
// the Update's object list replaces the registration's.
func TestBlock1UpdateAndSend(t *testing.T) {
	s, svc, _ := startServer(t, Config{})
	const imei = "868000000000350"
	provision(t, svc, imei)
	d := dialDevice(t, s)
	d.send(registerDatagram(t, 1, imei, "</1/0>,</3/0>"))
	_, resp := d.recvResponse()
	loc, _ := resp.Options.LocationPath() // "/rd/<id>"
	if resp.Code != codes.Created || len(loc) < 5 {
		t.Fatalf("Register answered %v at %q", resp.Code, loc)
	}
	body, want := objectList(30)
	send := []byte(`[{"bn":"/3/0/","n":"0","vs":"` + strings.Repeat("x", 200) + `"}]`)
	for _, step := range []struct {
		name string
		opts message.Options
		body []byte
		want codes.Code
	}{
		{"Update", message.Options{{ID: message.URIPath, Value: []byte("rd")}, {ID: message.URIPath, Value: []byte(loc[4:])},
			{ID: message.ContentFormat, Value: []byte{byte(message.AppLinkFormat)}}}, []byte(body), codes.Changed},
		{"Send", message.Options{{ID: message.URIPath, Value: []byte("dp")},
			{ID: message.ContentFormat, Value: uintValue(wire.FormatSenMLJSON)}}, send, codes.Changed},
	} {
		mid := uint16(10)
		for num := uint32(0); ; num++ {
			mid++
			d.send(postBlock(t, mid, step.opts, step.body, num, 1))
			if _, resp = d.recvResponse(); resp.Code != codes.Continue {
				break
			}
		}
		if resp.Code != step.want || block1Of(t, resp).more {
			t.Fatalf("%s in blocks: last block answered %v %q, want %v", step.name, resp.Code, resp.Payload, step.want)
		}
	}
	waitObjects(t, s, imei, want)
}

// A retransmitted block is answered from the duplicate cache and is not
// appended twice.
func TestBlock1RetransmittedBlock(t *testing.T) {
	s, svc, _ := startServer(t, Config{})
	const imei = "868000000000310"
	provision(t, svc, imei)
	body, want := objectList(10)
	d := dialDevice(t, s)
	first := blockDatagram(t, 200, imei, []byte(body), 0, 1)
	d.send(first)
	a, resp := d.recvResponse()
	if resp.Code != codes.Continue {
		t.Fatalf("block 0 answered %v", resp.Code)
	}
	d.send(first)
	if again, _ := d.recvResponse(); !bytes.Equal(again, a) {
		t.Fatalf("retransmission answered %x, first answer %x", again, a)
	}
	for num := uint32(1); ; num++ {
		d.send(blockDatagram(t, 200+uint16(num), imei, []byte(body), num, 1))
		if _, resp = d.recvResponse(); resp.Code != codes.Continue {
			break
		}
	}
	if resp.Code != codes.Created {
		t.Fatalf("last block answered %v %q", resp.Code, resp.Payload)
	}
	waitObjects(t, s, imei, want)
}

// Blocks out of order, a continuation of no transfer and a block size
// that grows are answered 4.08 Request Entity Incomplete; a smaller size
// in the client's second message is taken (RFC 7959, 2.3).
func TestBlock1Incomplete(t *testing.T) {
	s, svc, _ := startServer(t, Config{})
	const imei = "868000000000320"
	provision(t, svc, imei)
	body, want := objectList(20)
	tests := []struct {
		name  string
		steps []struct {
			num  uint32
			szx  uint8
			want codes.Code
		}
	}{
		{"skipped block", []struct {
			num  uint32
			szx  uint8
			want codes.Code
		}{{0, 1, codes.Continue}, {2, 1, codes.RequestEntityIncomplete}, {3, 1, codes.RequestEntityIncomplete}}},
		{"no start", []struct {
			num  uint32
			szx  uint8
			want codes.Code
		}{{1, 1, codes.RequestEntityIncomplete}}},
		{"size grows", []struct {
			num  uint32
			szx  uint8
			want codes.Code
		}{{0, 0, codes.Continue}, {1, 1, codes.RequestEntityIncomplete}}},
		{"size shrinks late", []struct {
			num  uint32
			szx  uint8
			want codes.Code
		}{{0, 1, codes.Continue}, {1, 1, codes.Continue}, {4, 0, codes.RequestEntityIncomplete}}},
	}
	mid := uint16(300)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := dialDevice(t, s)
			for _, st := range tt.steps {
				mid++
				d.send(blockDatagram(t, mid, imei, []byte(body), st.num, st.szx))
				if _, resp := d.recvResponse(); resp.Code != st.want {
					t.Fatalf("block %d (szx %d) answered %v %q, want %v", st.num, st.szx, resp.Code, resp.Payload, st.want)
				}
			}
		})
	}
	t.Run("size shrinks in the second message", func(t *testing.T) {
		d := dialDevice(t, s)
		mid++
		d.send(blockDatagram(t, mid, imei, []byte(body), 0, 2)) // 64 bytes
		if _, resp := d.recvResponse(); resp.Code != codes.Continue {
			t.Fatalf("block 0 answered %v", resp.Code)
		}
		var resp message.Message
		for num := uint32(4); resp.Code != codes.Created; num++ { // on in 16 bytes from byte 64
			mid++
			d.send(blockDatagram(t, mid, imei, []byte(body), num, 0))
			if _, resp = d.recvResponse(); resp.Code != codes.Continue && resp.Code != codes.Created {
				t.Fatalf("block %d of 16 bytes answered %v %q", num, resp.Code, resp.Payload)
			}
		}
		waitObjects(t, s, imei, want)
	})
	if st := s.BlockStats(); st.InProgress != 0 {
		t.Fatalf("transfers refused are still kept: %+v", st)
	}
}

// A payload over the maximum is answered 4.13 with Size1, whether the
// client announces it in Size1 or only sends it.
func TestBlock1TooLarge(t *testing.T) {
	s, svc, m := startServer(t, Config{Block1: Block1Config{MaxPayload: 2048}})
	const imei = "868000000000330"
	provision(t, svc, imei)
	body, _ := objectList(400) // about 4 KiB
	check := func(resp message.Message) {
		t.Helper()
		size1, err := resp.Options.GetUint32(message.Size1)
		if resp.Code != codes.RequestEntityTooLarge || err != nil || size1 != 2048 {
			t.Fatalf("answered %v Size1 %d (%v), want 4.13 with Size1 2048", resp.Code, size1, err)
		}
	}
	d := dialDevice(t, s)
	d.send(blockDatagram(t, 1, imei, []byte(body), 0, 6, message.Option{ID: message.Size1, Value: uintValue(uint32(len(body)))}))
	_, resp := d.recvResponse()
	check(resp)
	for num := uint32(0); ; num++ {
		d.send(blockDatagram(t, 10+uint16(num), imei, []byte(body), num, 6))
		if _, resp = d.recvResponse(); resp.Code != codes.Continue {
			break
		}
	}
	check(resp)
	if st := s.BlockStats(); st.InProgress != 0 || st.TooLarge != 2 || m.registers.Load() != 0 {
		t.Fatalf("after 4.13: %+v, %d registered", st, m.registers.Load())
	}
}

// A flood of partial transfers from many sources stays under the byte
// cap and is refused with 5.03 beyond it; a device still registers in one
// datagram at once, and in blocks once the flood's transfers expire.
func TestBlock1Flood(t *testing.T) {
	const maxBytes = 32 << 10
	s, svc, _ := startServer(t, Config{Block1: Block1Config{MaxBytes: maxBytes, Lifetime: 500 * time.Millisecond}})
	junk := bytes.Repeat([]byte("</9/0>,"), 200)
	refused := 0
	for src := range 32 {
		d := dialDevice(t, s)
		for i := range 4 {
			d.send(blockDatagram(t, uint16(i+1), fmt.Sprintf("86800000100%04d", src*4+i), junk, 0, 6))
			_, resp := d.recvResponse()
			switch resp.Code {
			case codes.Continue:
			case codes.ServiceUnavailable:
				refused++
			default:
				t.Fatalf("flood block answered %v", resp.Code)
			}
		}
		if st := s.BlockStats(); st.Bytes > maxBytes {
			t.Fatalf("partial transfers hold %d bytes, cap %d", st.Bytes, maxBytes)
		}
	}
	st := s.BlockStats()
	if refused == 0 || st.Refused != int64(refused) || st.InProgress == 0 || st.InProgress+int64(refused) != 128 {
		t.Fatalf("after the flood: %+v, %d refused", st, refused)
	}
	const imei = "868000000000340"
	provision(t, svc, imei)
	body, want := objectList(10)
	d := dialDevice(t, s)
	d.send(registerDatagram(t, 1, imei, body))
	if _, resp := d.recvResponse(); resp.Code != codes.Created {
		t.Fatalf("Register in one datagram during the flood answered %v", resp.Code)
	}
	waitObjects(t, s, imei, want)
	const later = "868000000000341"
	provision(t, svc, later)
	d = dialDevice(t, s) // the first device may get a downlink now
	deadline := time.Now().Add(10 * time.Second)
	for mid := uint16(100); ; mid += 100 {
		d.send(blockDatagram(t, mid, later, []byte(body), 0, 2))
		if _, resp := d.recvResponse(); resp.Code == codes.Continue {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the flood's transfers did not expire")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp := registerInBlocks(t, d, 1000, later, []byte(body), 2); resp.Code != codes.Created {
		t.Fatalf("Register in blocks after the flood answered %v", resp.Code)
	}
	waitObjects(t, s, later, want)
}

func TestParseBlock1(t *testing.T) {
	tests := map[string]struct {
		give    []byte
		want    block1
		wantErr error
	}{
		"empty":         {[]byte{}, block1{}, nil},
		"more 16":       {[]byte{0x08}, block1{more: true}, nil},
		"num 1 64":      {[]byte{0x12}, block1{num: 1, szx: 2}, nil},
		"two bytes":     {[]byte{0x01, 0x4e}, block1{num: 20, more: true, szx: 6}, nil},
		"three bytes":   {[]byte{0xff, 0xff, 0xfe}, block1{num: 1<<20 - 1, more: true, szx: 6}, nil},
		"szx 7":         {[]byte{0x07}, block1{}, errBlock1SZX},
		"four bytes":    {[]byte{0, 0, 0, 0x08}, block1{}, errBlock1Length},
		"leading zeros": {[]byte{0, 0x12}, block1{num: 1, szx: 2}, nil},
	}
	for name, tt := range tests {
		got, err := parseBlock1(tt.give)
		if got != tt.want || err != tt.wantErr {
			t.Errorf("%s: parseBlock1(%x) = %+v, %v; want %+v, %v", name, tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

// FuzzBlock1Option: any option value parses or is refused without a
// panic, and what parses encodes back to a value that parses the same,
// in the fewest bytes.
func FuzzBlock1Option(f *testing.F) {
	for _, seed := range [][]byte{{}, {0x08}, {0x12}, {0x01, 0x4e}, {0xff, 0xff, 0xfe}, {0x07}, {0, 0, 0, 8}, {0, 0x12}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		b, err := parseBlock1(v)
		if err != nil {
			return
		}
		enc := b.encode()
		if len(enc) > len(bytes.TrimLeft(v, "\x00")) {
			t.Fatalf("%x encoded back as %x", v, enc)
		}
		if again, err := parseBlock1(enc); err != nil || again != b {
			t.Fatalf("%x: %+v encodes as %x, which parses as %+v, %v", v, b, enc, again, err)
		}
		if b.size() < 16 || b.size() > 1024 {
			t.Fatalf("%x: block size %d", v, b.size())
		}
	})
}
