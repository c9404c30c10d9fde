package sqlite

import (
	"os"
	"syscall"
)

// fdatasync syncs f's data (and what is needed to read it back), not its
// times.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
