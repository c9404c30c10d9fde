package lwm2m

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/nbpair/nbpair/internal/coapfront"
)

// BenchmarkRegister measures Registers (re-registrations of 256
// provisioned devices, without the Pairing object) through the plain front into the pairing service
// on SQLite, from 64 sockets in a closed loop, with 8, 64 and 256
// workers. Run with
//
//	go test -run X -bench Register -benchtime 5000x ./internal/lwm2m/
func BenchmarkRegister(b *testing.B) {
	for _, workers := range []int{8, 64, 256} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			benchRegister(b, Config{Front: coapfront.Config{Workers: workers}})
		})
	}
}

func benchRegister(b *testing.B, cfg Config) {
	s, svc, m := startServer(b, cfg)
	const devices = 256
	for i := range devices {
		provision(b, svc, fmt.Sprintf("868000001%06d", i))
	}
	var next, retrans atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.DialUDP("udp", nil, s.Addr().(*net.UDPAddr))
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		buf := make([]byte, 2048)
		for mid := uint16(0); pb.Next(); mid++ {
			req := registerDatagram(b, mid, fmt.Sprintf("868000001%06d", next.Add(1)%devices), "</1/0>,</3/0>") // no Pairing object: no downlink
			for {
				c.Write(req)
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := c.Read(buf)
				if err != nil {
					retrans.Add(1)
					continue
				}
				var resp message.Message
				resp.Options = make(message.Options, 0, 8)
				if _, err := coder.DefaultCoder.Decode(buf[:n], &resp); err != nil || resp.Code != codes.Created {
					b.Errorf("Register answered %v (%v)", resp.Code, err)
					return
				}
				break
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reg/s")
	b.ReportMetric(float64(retrans.Load()), "retrans")
	if int(m.registers.Load()) < b.N {
		b.Errorf("%d Registers processed for %d sent", m.registers.Load(), b.N)
	}
}
