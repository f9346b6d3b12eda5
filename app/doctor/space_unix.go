//go:build unix

package doctor

import (
	"fmt"
	"path/filepath"
	"syscall"
)

// lowSpace reports whether path's file system has less than
// lowSpaceLimit free for tandem, and says how much it has.
func (d *checker) lowSpace(path string) (bool, string) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(absPath(path)), &st); err != nil {
		return false, "; free space not known: " + causeOf(err)
	}
	free := uint64(st.Bavail) * uint64(st.Bsize)
	return free < lowSpaceLimit, fmt.Sprintf("; %s free on its file system", byteSize(free))
}
