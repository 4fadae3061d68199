package audit

import (
	"os"

	"golang.org/x/sys/unix"
)

// prefetch asks the kernel to start reading the file at path into its page
// cache now, in large sequential reads: the integrity check that follows
// then walks cached pages instead of waiting for one small read at a time
// (on a log that is not cached, that is several times faster). It is only
// advice: failures are ignored.
func prefetch(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }() // opened only to give advice
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_WILLNEED)
}
