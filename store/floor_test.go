package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tandembot/tandem/internal/paced"
)

// BenchmarkFlushFloor is what this machine's disk allows a durable
// acknowledgement: a bare loop appending a 300-byte record (a journal
// record's size) to a file in the test's temporary directory (where the
// other benchmarks keep their databases) and calling fdatasync, open-loop
// at TANDEM_BENCH_FLOOR_RATE. Each append is timed from when it was due,
// so one stalled flush also delays the appends queued behind it, as it
// delays the acknowledgements behind it. No Tandem code runs: the
// percentiles are the floor that issue 16's and 20's ack rows on bbolt are
// read against.
func BenchmarkFlushFloor(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "floor"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	record := make([]byte, 300)
	paced.Bench(b, func() error {
		if _, err := f.Write(record); err != nil {
			return err
		}
		return f.Sync()
	})
}
