//go:build !unix

package doctor

// lowSpace cannot ask this system how much space is free; it never warns.
func (d *checker) lowSpace(string) (bool, string) {
	return false, "; free space not known on this system"
}
