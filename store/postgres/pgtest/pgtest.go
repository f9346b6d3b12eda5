// Package pgtest gives tests a PostgreSQL schema of their own, so they can
// run in parallel against one database and leave nothing behind.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable that holds the URL of the database tests may
// create schemas in.
const EnvURL = "TANDEM_TEST_DATABASE_URL"

// BaseURL returns the database URL from TANDEM_TEST_DATABASE_URL, and skips
// t, saying how to set it, when it is unset.
func BaseURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" && os.Getenv("CI") == "true" {
		t.Fatal(EnvURL + " is not set in CI: .ci/run must start PostgreSQL and set it; these tests never skip in CI")
	}
	if base == "" {
		t.Skip(EnvURL + " is not set: these tests need a PostgreSQL database they may create schemas in, e.g. " +
			EnvURL + "=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./store/... (CI sets it)")
	}
	return base
}

// URL returns the URL of a new, empty schema in the test database (its
// search_path names the schema), dropped with everything in it when t
// ends. It skips t when TANDEM_TEST_DATABASE_URL is unset, and fails it
// when the database cannot be reached.
func URL(t testing.TB) string {
	t.Helper()
	base := BaseURL(t)
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "tandem_test_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{schema}.Sanitize()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(t, base, schema)
}

// WithSearchPath returns base with its search_path set to schema, in
// either form PostgreSQL URLs take (postgres://... or key=value pairs).
func WithSearchPath(t testing.TB, base, schema string) string {
	t.Helper()
	if !strings.Contains(base, "://") {
		return base + " search_path=" + schema
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: %s is not a URL: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
