//go:build unix

package app

import (
	"fmt"
	"path/filepath"
	"syscall"
)

// lowSpace reports whether path's file system has less than
// doctorLowSpace free for tandem, and says how much it has.
func (d *doctor) lowSpace(path string) (bool, string) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(doctorAbs(path)), &st); err != nil {
		return false, "; free space not known: " + doctorCause(err)
	}
	free := uint64(st.Bavail) * uint64(st.Bsize)
	return free < doctorLowSpace, fmt.Sprintf("; %s free on its file system", doctorBytes(free))
}
