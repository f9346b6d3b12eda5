package store

// Scale of state (issue 7, "Performance"): a bbolt store holding many
// sessions and links. The database is built once per run of BenchmarkScale
// in a temporary directory (bulk-loaded in large transactions through the
// store's own encoders, tokens sealed as SaveLink seals them), then each
// sub-benchmark measures one operation against it.
//
// Sizes: 10,000 sessions and 1,000 links by default; TANDEM_BENCH_SCALE=1
// selects 1,000,000 sessions and 100,000 links (building takes about a
// minute); TANDEM_BENCH_SESSIONS and TANDEM_BENCH_LINKS set any size.
//
//	go test ./store -run '^$' -bench BenchmarkScale -count=3
//	TANDEM_BENCH_SCALE=1 go test ./store -run '^$' -bench BenchmarkScale -count=3 -timeout 30m

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/paced"
	"github.com/tandembot/tandem/secrets"
	bolt "go.etcd.io/bbolt"
)

// benchScaleKeyring is the scale database's key (fixed, so a kept file
// reopens).
func benchScaleKeyring(tb testing.TB) *secrets.Keyring {
	tb.Helper()
	key := make([]byte, secrets.KeySize)
	for i := range key {
		key[i] = byte(i*13 + 5)
	}
	k, err := secrets.NewKeyring(key)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// benchScaleTeam is the one workspace of the scale database.
const benchScaleTeam = "T0TANDEM"

// benchScaleSize returns how many sessions and links to build.
func benchScaleSize(tb testing.TB) (sessions, links int) {
	sessions, links = 10_000, 1_000
	if os.Getenv("TANDEM_BENCH_SCALE") == "1" {
		sessions, links = 1_000_000, 100_000
	}
	for name, p := range map[string]*int{"TANDEM_BENCH_SESSIONS": &sessions, "TANDEM_BENCH_LINKS": &links} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				tb.Fatalf("%s=%q: want a positive number", name, v)
			}
			*p = n
		}
	}
	return sessions, links
}

// benchScaleSessionKey is the key of session i: 2,000 channels, threads in
// time order, so the keys arrive interleaved across channels as they do in a
// real workspace (not in key order, which would pack pages unrealistically).
func benchScaleSessionKey(i int) tandem.SessionKey {
	return tandem.SessionKey{
		Team:     benchScaleTeam,
		Channel:  fmt.Sprintf("C%08d", i*7919%2000),
		ThreadTS: fmt.Sprintf("%d.%06d", 1700000000+i/10, i%1000000),
	}
}

func benchScaleSession(i int, users int) tandem.Session {
	owner := fmt.Sprintf("U%08d", i*31%users)
	s := tandem.Session{
		Key: benchScaleSessionKey(i), Owner: owner,
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
	}
	// Most threads have one or two other people in them.
	for e := range i % 3 {
		s.Editors = append(s.Editors, fmt.Sprintf("U%08d", (i*31+e+1)%users))
	}
	if i%20 == 0 {
		s.Env = map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}
	}
	return s
}

// benchScaleLink is link j: two providers per person, GitHub and one other.
func benchScaleLink(j int) tandem.Link {
	others := []tandem.ProviderID{tandem.GitLab, tandem.Jira, tandem.Google}
	user := j / 2
	p := tandem.GitHub
	if j%2 == 1 {
		p = others[user%3]
	}
	login := fmt.Sprintf("user%08d", user)
	return tandem.Link{
		Team: benchScaleTeam, User: fmt.Sprintf("U%08d", user), Provider: p,
		AccountID: strconv.Itoa(100000 + j), Login: login,
		LinkedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Token: tandem.Token{
			AccessToken:  fmt.Sprintf("ghu_bench%032d", j),
			RefreshToken: fmt.Sprintf("ghr_bench%072d", j),
			TokenType:    "bearer",
			Expiry:       time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC),
		},
	}
}

// benchScaleTurnSeq numbers the turns the benchmarks record, unique across
// -count repetitions.
var benchScaleTurnSeq atomic.Int64

// benchScaleDB is the built database and what building it measured.
type benchScaleDB struct {
	db                *DB
	path              string
	sessions, links   int
	build             time.Duration
	fileAfterSessions int64 // bytes
	fileAfterLinks    int64
	sessionsInUse     int // bytes of pages the sessions bucket uses
	linksInUse        int
	sessionKeysStored int
	linkKeysStored    int
}

// buildBenchScale bulk-loads sessions and links into a new store at path,
// in transactions of 20,000 records, without fsync per transaction (one
// sync at the end): the layout and encodings are the store's own.
func buildBenchScale(tb testing.TB, path string, sessions, links int) *benchScaleDB {
	tb.Helper()
	began := time.Now()
	db, err := Open(path, Options{Keyring: benchScaleKeyring(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	db.bolt.NoSync = true
	const batch = 20_000
	users := max(links/2, 1)
	put := func(n int, bucket string, kv func(i int) ([]byte, any, error)) {
		for from := 0; from < n; from += batch {
			err := db.bolt.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte(bucket))
				for i := from; i < min(from+batch, n); i++ {
					k, v, err := kv(i)
					if err != nil {
						return err
					}
					if err := putJSON(b, k, v); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				tb.Fatal(err)
			}
		}
	}
	put(sessions, bucketSessions, func(i int) ([]byte, any, error) {
		s := benchScaleSession(i, users)
		k, err := sessionKey(s.Key)
		return k, s, err
	})
	if err := db.bolt.Sync(); err != nil {
		tb.Fatal(err)
	}
	r := &benchScaleDB{db: db, path: path, sessions: sessions, links: links}
	r.fileAfterSessions = benchScaleFileSize(tb, path)
	put(links, bucketLinks, func(j int) ([]byte, any, error) {
		l := benchScaleLink(j)
		k, err := linkKey(l.Team, l.User, l.Provider)
		if err != nil {
			return nil, nil, err
		}
		sealed, err := db.keys.SealToken(l.Token, l.Team, l.User, l.Provider)
		return k, linkValue{Link: l, SealedToken: sealed}, err
	})
	db.bolt.NoSync = false
	if err := db.bolt.Sync(); err != nil {
		tb.Fatal(err)
	}
	r.fileAfterLinks = benchScaleFileSize(tb, path)
	err = db.bolt.View(func(tx *bolt.Tx) error {
		ss := tx.Bucket([]byte(bucketSessions)).Stats()
		ls := tx.Bucket([]byte(bucketLinks)).Stats()
		r.sessionsInUse = ss.BranchInuse + ss.LeafInuse
		r.linksInUse = ls.BranchInuse + ls.LeafInuse
		r.sessionKeysStored, r.linkKeysStored = ss.KeyN, ls.KeyN
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	r.build = time.Since(began)
	// Reopen, as a starting bot would, and check the data reads back.
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	if r.db, err = Open(path, Options{Keyring: benchScaleKeyring(tb)}); err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if s, err := r.db.Session(ctx, benchScaleSessionKey(sessions-1)); err != nil || s.Owner == "" {
		tb.Fatalf("the last session does not read back: %+v, %v", s, err)
	}
	if l, err := r.db.Link(ctx, benchScaleTeam, benchScaleLink(links-1).User, benchScaleLink(links-1).Provider); err != nil || l.Token != benchScaleLink(links-1).Token {
		tb.Fatalf("the last link does not read back: %v", err)
	}
	if r.sessionKeysStored != sessions || r.linkKeysStored != links {
		tb.Fatalf("stored %d sessions and %d links, want %d and %d", r.sessionKeysStored, r.linkKeysStored, sessions, links)
	}
	return r
}

func benchScaleFileSize(tb testing.TB, path string) int64 {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// benchScaleRSSFile returns the process's resident file-backed memory in
// bytes (Linux's RssFile: mapped file pages, bbolt's mmap among them), or
// -1 where /proc is missing.
func benchScaleRSSFile() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}

func benchScaleReportLatency(b *testing.B, lat []time.Duration) {
	b.ReportMetric(paced.Pct(lat, 50), "p50-ms")
	b.ReportMetric(paced.Pct(lat, 99), "p99-ms")
	b.ReportMetric(paced.Pct(lat, 100), "max-ms")
}

// BenchmarkScale builds the scale database once, then measures against it:
// a session lookup (hit and miss, as turnFor and the turn's EnsureSession
// read), a link lookup with its token decrypted (each credential
// resolution), reopening the store (its share of start-up), the inbox
// write every ack waits for (new and duplicate), Counts (what /readyz calls
// on every probe), and the size of the file per session and per link.
func BenchmarkScale(b *testing.B) {
	sessions, links := benchScaleSize(b)
	path := filepath.Join(b.TempDir(), "scale.db")
	s := buildBenchScale(b, path, sessions, links)
	defer s.db.Close()
	b.Logf("built %d sessions and %d links in %s: file %d MiB (%d MiB after sessions), sessions bucket %d MiB in use, links bucket %d MiB in use",
		sessions, links, s.build.Round(time.Millisecond), s.fileAfterLinks>>20, s.fileAfterSessions>>20, s.sessionsInUse>>20, s.linksInUse>>20)
	ctx := context.Background()
	name := fmt.Sprintf("sessions=%d", sessions)

	b.Run(name+"/SessionLookup", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, uint64(b.N)))
		keys := make([]tandem.SessionKey, 4096)
		for i := range keys {
			keys[i] = benchScaleSessionKey(rng.IntN(sessions))
		}
		lat := make([]time.Duration, 0, 1<<16)
		i := 0
		for b.Loop() {
			t0 := time.Now()
			_, err := s.db.Session(ctx, keys[i%len(keys)])
			lat = append(lat, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
		benchScaleReportLatency(b, lat)
	})

	b.Run(name+"/SessionLookupMiss", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(2, uint64(b.N)))
		lat := make([]time.Duration, 0, 1<<16)
		for b.Loop() {
			k := benchScaleSessionKey(rng.IntN(sessions))
			k.ThreadTS += "9"
			t0 := time.Now()
			_, err := s.db.Session(ctx, k)
			lat = append(lat, time.Since(t0))
			if tandem.ErrorCode(err) != tandem.ENOTFOUND {
				b.Fatalf("miss: %v", err)
			}
		}
		benchScaleReportLatency(b, lat)
	})

	b.Run(name+"/LinkLookup", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(3, uint64(b.N)))
		lat := make([]time.Duration, 0, 1<<16)
		for b.Loop() {
			l := benchScaleLink(rng.IntN(links))
			t0 := time.Now()
			_, err := s.db.Link(ctx, l.Team, l.User, l.Provider)
			lat = append(lat, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
		}
		benchScaleReportLatency(b, lat)
	})

	b.Run(name+"/Reopen", func(b *testing.B) {
		if err := s.db.Close(); err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		for b.Loop() {
			t0 := time.Now()
			db, err := Open(path, Options{Keyring: benchScaleKeyring(b)})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := db.Session(ctx, benchScaleSessionKey(0)); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			b.StopTimer()
			db.Close()
			b.StartTimer()
		}
		var err error
		if s.db, err = Open(path, Options{Keyring: benchScaleKeyring(b)}); err != nil {
			b.Fatal(err)
		}
		benchScaleReportLatency(b, lat)
		b.ReportMetric(float64(s.fileAfterSessions)/float64(sessions), "file-B/session")
		b.ReportMetric(float64(s.sessionsInUse)/float64(sessions), "inuse-B/session")
		b.ReportMetric(float64(s.fileAfterLinks-s.fileAfterSessions)/float64(links), "file-B/link")
		b.ReportMetric(float64(s.linksInUse)/float64(links), "inuse-B/link")
		b.ReportMetric(float64(s.fileAfterLinks)/(1<<20), "file-MiB")
	})

	// The inbox write that every ack waits for, on the big file: a new turn,
	// and a duplicate delivery (the second event of every channel mention),
	// which writes nothing but still commits a write transaction.
	b.Run(name+"/RecordTurn", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			i := int(benchScaleTurnSeq.Add(1))
			t := tandem.Turn{ID: fmt.Sprintf("EvScale%09d", i), Session: benchScaleSessionKey(i % sessions),
				User: "U00000001", Text: "list my open PRs", TS: fmt.Sprintf("1800000000.%09d", i), ReceivedAt: time.Now()}
			t0 := time.Now()
			dup, err := s.db.RecordTurn(ctx, t)
			lat = append(lat, time.Since(t0))
			if err != nil || dup {
				b.Fatalf("RecordTurn = %v, %v", dup, err)
			}
		}
		benchScaleReportLatency(b, lat)
	})

	b.Run(name+"/RecordTurnDuplicate", func(b *testing.B) {
		t := tandem.Turn{ID: "EvScaleDup", Session: benchScaleSessionKey(0), User: "U00000001",
			Text: "list my open PRs", TS: "1800000001.000001", ReceivedAt: time.Now()}
		if _, err := s.db.RecordTurn(ctx, t); err != nil {
			b.Fatal(err)
		}
		t.ID = "EvScaleDupTwin" // the message.channels twin: same channel and ts
		var lat []time.Duration
		for b.Loop() {
			t0 := time.Now()
			dup, err := s.db.RecordTurn(ctx, t)
			lat = append(lat, time.Since(t0))
			if err != nil || !dup {
				b.Fatalf("RecordTurn = %v, %v; want a duplicate", dup, err)
			}
		}
		benchScaleReportLatency(b, lat)
	})

	b.Run(name+"/Counts", func(b *testing.B) {
		// A fresh mapping, so RssFile shows what Counts itself faults in.
		if err := s.db.Close(); err != nil {
			b.Fatal(err)
		}
		var err error
		if s.db, err = Open(path, Options{Keyring: benchScaleKeyring(b)}); err != nil {
			b.Fatal(err)
		}
		rss0 := benchScaleRSSFile()
		var lat []time.Duration
		for b.Loop() {
			t0 := time.Now()
			c, err := s.db.Counts()
			lat = append(lat, time.Since(t0))
			if err != nil || c[bucketSessions] != sessions {
				b.Fatalf("Counts = %v, %v", c, err)
			}
		}
		benchScaleReportLatency(b, lat)
		if rss0 >= 0 {
			b.ReportMetric(float64(benchScaleRSSFile()-rss0)/(1<<20), "rss-file-growth-MiB")
		}
	})
}

// BenchmarkGroupCommit backs the fix proposed in docs/performance.md: with
// many turns running, every store write is its own fsync'ed bbolt commit
// and they queue for the single writer. 64 goroutines record turns (the
// inbox write, as RecordTurn does) either each in its own commit (update,
// what the store does today) or coalesced by bbolt's DB.Batch (batch, with
// MaxBatchDelay 1ms), which commits whatever is waiting in one transaction
// and one fsync. It reports writes/s and each write's latency.
func BenchmarkGroupCommit(b *testing.B) {
	for _, mode := range []string{"update", "batch"} {
		b.Run(mode, func(b *testing.B) {
			db, err := Open(filepath.Join(b.TempDir(), "group.db"), Options{Keyring: benchScaleKeyring(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.bolt.MaxBatchDelay = time.Millisecond
			ctx := context.Background()
			var mu sync.Mutex
			var lat []time.Duration
			var seq atomic.Int64
			b.SetParallelism(32) // 64 writers on 2 cores
			began := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					i := seq.Add(1)
					t := tandem.Turn{ID: fmt.Sprintf("EvGroup%09d", i), Session: benchScaleSessionKey(int(i)),
						User: "U00000001", Text: "list my open PRs", TS: fmt.Sprintf("1800000000.%09d", i), ReceivedAt: time.Now()}
					t0 := time.Now()
					var err error
					if mode == "update" {
						_, err = db.RecordTurn(ctx, t)
					} else {
						err = db.bolt.Batch(func(tx *bolt.Tx) error {
							_, err := db.recordTurn(tx, t)
							return err
						})
					}
					mine = append(mine, time.Since(t0))
					if err != nil {
						b.Error(err)
						return
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			elapsed := time.Since(began)
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "writes/s")
			benchScaleReportLatency(b, lat)
		})
	}
}
