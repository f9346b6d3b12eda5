//go:build !unix

package app

// lowSpace cannot ask this system how much space is free; it never warns.
func (d *doctor) lowSpace(string) (bool, string) {
	return false, "; free space not known on this system"
}
