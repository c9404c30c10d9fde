//go:build !unix

package fleet

import "time"

// processCPU is not measured on this system: it reports zero.
func processCPU() time.Duration { return 0 }
