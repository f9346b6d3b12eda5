package syncbuf

import "testing"

func TestFromAndLen(t *testing.T) {
	var b Buffer
	b.Write([]byte("first line\n"))
	off := b.Len()
	if off != len("first line\n") {
		t.Fatalf("Len = %d, want %d", off, len("first line\n"))
	}
	b.Write([]byte("second line\n"))
	if got := b.From(off); got != "second line\n" {
		t.Errorf("From(%d) = %q, want only what came after", off, got)
	}
	if got := b.From(1000); got != "" {
		t.Errorf("From past the end = %q, want empty", got)
	}
	if got := b.From(0); got != b.String() {
		t.Errorf("From(0) = %q, want everything, %q", got, b.String())
	}
}
