package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
)

func testSessionUpdates(t *testing.T, open func(t *testing.T) tandem.Store) {
	s := open(t)
	ctx := t.Context()
	_, err := s.UpdateSession(ctx, sessionA, func(*tandem.Session) error { return nil })
	wantCode(t, "UpdateSession of a missing session", err, tandem.ENOTFOUND)
	_, _, err = s.EnsureSession(ctx, tandem.Session{Key: sessionA, Owner: "U1", CreatedAt: T0})
	must(t, "EnsureSession", err)

	got, err := s.UpdateSession(ctx, sessionA, func(ss *tandem.Session) error {
		ss.Env = map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}
		ss.Pending = &tandem.PendingChange{Name: "X", Value: "1", RequestedBy: "U2", RequestedAt: T0}
		return nil
	})
	must(t, "UpdateSession", err)
	if !got.Persistent() || got.Pending == nil {
		t.Errorf("UpdateSession returned %+v", got)
	}
	again, err := s.Session(ctx, sessionA)
	must(t, "Session", err)
	if !again.Persistent() || again.Pending == nil || again.Pending.RequestedBy != "U2" || again.Key != sessionA {
		t.Errorf("stored session after update = %+v", again)
	}

	boom := errors.New("refused")
	_, err = s.UpdateSession(ctx, sessionA, func(ss *tandem.Session) error {
		ss.Env = nil
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("UpdateSession with a failing fn: %v, want its error", err)
	}
	if again, _ := s.Session(ctx, sessionA); !again.Persistent() {
		t.Error("a failing fn's change was stored")
	}

	// Concurrent read-modify-writes lose nothing.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s.UpdateSession(ctx, sessionA, func(ss *tandem.Session) error {
				ss.Editors = append(ss.Editors, "E"+string(rune('a'+i)))
				return nil
			})
		}(i)
	}
	wg.Wait()
	if again, _ := s.Session(ctx, sessionA); len(again.Editors) != 20 {
		t.Errorf("%d editors after 20 concurrent updates, want 20", len(again.Editors))
	}

	other := tandem.SessionKey{Team: "T1", Channel: "C2", ThreadTS: "1740830400.000900"}
	_, _, err = s.EnsureSession(ctx, tandem.Session{Key: other, Owner: "U9", CreatedAt: T0})
	must(t, "EnsureSession", err)
	var owners []string
	must(t, "Sessions", s.Sessions(ctx, func(ss tandem.Session) error {
		owners = append(owners, ss.Owner)
		return nil
	}))
	if len(owners) != 2 {
		t.Errorf("Sessions visited %v, want two sessions", owners)
	}
	stop := errors.New("stop")
	if err := s.Sessions(ctx, func(tandem.Session) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Sessions did not return fn's error: %v", err)
	}
}

func testAPIKeys(t *testing.T, open func(t *testing.T) tandem.Store) {
	s := open(t)
	ctx := t.Context()
	k := tandem.APIKey{Prefix: "tdm_aaaa1111", Hash: "hash-of-FAKE-key-1", Name: "ci", Team: "T1", Creator: "U1", CreatedAt: T0, Expires: T0.Add(90 * 24 * time.Hour)}
	must(t, "SaveAPIKey", s.SaveAPIKey(ctx, k))
	wantCode(t, "SaveAPIKey same hash", s.SaveAPIKey(ctx, k), tandem.ECONFLICT)
	dupPrefix := k
	dupPrefix.Hash = "hash-of-FAKE-key-2"
	wantCode(t, "SaveAPIKey same prefix", s.SaveAPIKey(ctx, dupPrefix), tandem.ECONFLICT)
	wantCode(t, "SaveAPIKey without creator", s.SaveAPIKey(ctx, tandem.APIKey{Prefix: "p", Hash: "h", Team: "T1"}), tandem.EINVALID)
	must(t, "SaveAPIKey other", s.SaveAPIKey(ctx, tandem.APIKey{Prefix: "tdm_bbbb2222", Hash: "hash-of-FAKE-key-3", Name: "bot", Team: "T1", Creator: "U2", CreatedAt: T0}))

	got, err := s.APIKeyByHash(ctx, k.Hash)
	must(t, "APIKeyByHash", err)
	if got.Prefix != k.Prefix || got.Creator != "U1" || !got.Expires.Equal(k.Expires) {
		t.Errorf("APIKeyByHash = %+v", got)
	}
	_, err = s.APIKeyByHash(ctx, "nope")
	wantCode(t, "APIKeyByHash unknown", err, tandem.ENOTFOUND)

	mine, err := s.APIKeys(ctx, "T1", "U1")
	must(t, "APIKeys", err)
	all, _ := s.APIKeys(ctx, "T1", "")
	if len(mine) != 1 || len(all) != 2 {
		t.Errorf("APIKeys: %d of U1, %d in all; want 1 and 2", len(mine), len(all))
	}

	used := T0.Add(time.Hour)
	upd, err := s.UpdateAPIKey(ctx, k.Prefix, func(k *tandem.APIKey) error {
		k.LastUsed, k.Revoked = used, used
		k.Hash = "tampered"
		return nil
	})
	must(t, "UpdateAPIKey", err)
	if !upd.Revoked.Equal(used) || upd.Hash != k.Hash {
		t.Errorf("UpdateAPIKey = %+v", upd)
	}
	if again, _ := s.APIKeyByHash(ctx, k.Hash); !again.LastUsed.Equal(used) {
		t.Errorf("last used not stored: %+v", again)
	}
	_, err = s.UpdateAPIKey(ctx, "tdm_missing", func(*tandem.APIKey) error { return nil })
	wantCode(t, "UpdateAPIKey unknown", err, tandem.ENOTFOUND)

	t.Run("Scope", func(t *testing.T) { testAPIKeyScope(t, open) })
	t.Run("Pending", func(t *testing.T) { testAPIKeyPending(t, open) })
}

// testAPIKeyScope: a key's scope round-trips; a key saved without one is a
// read key (new keys are); any other scope is refused.
func testAPIKeyScope(t *testing.T, open func(t *testing.T) tandem.Store) {
	s := open(t)
	ctx := t.Context()
	keys := []tandem.APIKey{
		{Prefix: "tdm_read1111", Hash: "hash-of-FAKE-read", Name: "laptop", Team: "T1", Creator: "U1", CreatedAt: T0, Scope: tandem.ScopeRead},
		{Prefix: "tdm_writ2222", Hash: "hash-of-FAKE-write", Name: "deploy", Team: "T1", Creator: "U1", CreatedAt: T0, Scope: tandem.ScopeWrite},
		{Prefix: "tdm_none3333", Hash: "hash-of-FAKE-none", Name: "unsaid", Team: "T1", Creator: "U1", CreatedAt: T0},
	}
	want := map[string]tandem.Scope{"tdm_read1111": tandem.ScopeRead, "tdm_writ2222": tandem.ScopeWrite, "tdm_none3333": tandem.ScopeRead}
	for _, k := range keys {
		must(t, "SaveAPIKey "+k.Prefix, s.SaveAPIKey(ctx, k))
		got, err := s.APIKeyByHash(ctx, k.Hash)
		must(t, "APIKeyByHash "+k.Prefix, err)
		if got.Scope != want[k.Prefix] {
			t.Errorf("APIKeyByHash(%s).Scope = %q, want %q", k.Prefix, got.Scope, want[k.Prefix])
		}
	}
	list, err := s.APIKeys(ctx, "T1", "U1")
	must(t, "APIKeys", err)
	for _, k := range list {
		if k.Scope != want[k.Prefix] {
			t.Errorf("APIKeys: %s has scope %q, want %q", k.Prefix, k.Scope, want[k.Prefix])
		}
	}
	if len(list) != len(keys) {
		t.Errorf("APIKeys lists %d keys, want %d", len(list), len(keys))
	}
	bad := tandem.APIKey{Prefix: "tdm_admn4444", Hash: "hash-of-FAKE-admin", Name: "admin", Team: "T1", Creator: "U1", CreatedAt: T0, Scope: "admin"}
	wantCode(t, "SaveAPIKey with scope admin", s.SaveAPIKey(ctx, bad), tandem.EINVALID)
	if _, err := s.APIKeyByHash(ctx, bad.Hash); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("a key refused for its scope was stored: %v", err)
	}

	// UpdateAPIKey sees and keeps the scope, and stores a changed one.
	upd, err := s.UpdateAPIKey(ctx, "tdm_read1111", func(k *tandem.APIKey) error {
		if k.Scope != tandem.ScopeRead {
			t.Errorf("UpdateAPIKey's fn sees scope %q, want read", k.Scope)
		}
		k.LastUsed = T0.Add(time.Minute)
		return nil
	})
	must(t, "UpdateAPIKey", err)
	if upd.Scope != tandem.ScopeRead {
		t.Errorf("UpdateAPIKey = scope %q, want read", upd.Scope)
	}
	_, err = s.UpdateAPIKey(ctx, "tdm_read1111", func(k *tandem.APIKey) error { k.Scope = tandem.ScopeWrite; return nil })
	must(t, "UpdateAPIKey to write", err)
	if got, _ := s.APIKeyByHash(ctx, "hash-of-FAKE-read"); got.Scope != tandem.ScopeWrite {
		t.Errorf("scope after UpdateAPIKey = %q, want write", got.Scope)
	}
	_, err = s.UpdateAPIKey(ctx, "tdm_read1111", func(k *tandem.APIKey) error { k.Scope = "admin"; return nil })
	wantCode(t, "UpdateAPIKey to scope admin", err, tandem.EINVALID)
	if got, _ := s.APIKeyByHash(ctx, "hash-of-FAKE-read"); got.Scope != tandem.ScopeWrite {
		t.Errorf("a refused UpdateAPIKey changed the scope to %q", got.Scope)
	}
}

func testSettings(t *testing.T, open func(t *testing.T) tandem.Store) {
	s := open(t)
	ctx := t.Context()
	_, err := s.Setting(ctx, "channel/T1/C1/persistent")
	wantCode(t, "Setting missing", err, tandem.ENOTFOUND)
	must(t, "SetSetting", s.SetSetting(ctx, "channel/T1/C1/persistent", "on"))
	if v, err := s.Setting(ctx, "channel/T1/C1/persistent"); err != nil || v != "on" {
		t.Errorf("Setting = %q, %v", v, err)
	}
	must(t, "SetSetting delete", s.SetSetting(ctx, "channel/T1/C1/persistent", ""))
	_, err = s.Setting(ctx, "channel/T1/C1/persistent")
	wantCode(t, "Setting after delete", err, tandem.ENOTFOUND)
}

func testLeases(t *testing.T, open func(t *testing.T) tandem.Store) {
	s := open(t)
	ctx := t.Context()
	ok, err := s.Lease(ctx, "session/a", "replica-1", time.Minute)
	must(t, "Lease", err)
	if !ok {
		t.Fatal("a free lease was refused")
	}
	if ok, _ := s.Lease(ctx, "session/a", "replica-2", time.Minute); ok {
		t.Error("a held lease was granted to another owner")
	}
	if ok, _ := s.Lease(ctx, "session/a", "replica-1", time.Minute); !ok {
		t.Error("the holder could not renew its lease")
	}
	must(t, "ReleaseLease other", s.ReleaseLease(ctx, "session/a", "replica-2"))
	if ok, _ := s.Lease(ctx, "session/a", "replica-2", time.Minute); ok {
		t.Error("another owner's release dropped the lease")
	}
	must(t, "ReleaseLease", s.ReleaseLease(ctx, "session/a", "replica-1"))
	if ok, _ := s.Lease(ctx, "session/a", "replica-2", time.Minute); !ok {
		t.Error("a released lease was refused")
	}
	// A renewal extends only a lease its owner still holds: never one that
	// was released (a runner that stalled past its release would take its
	// session back) nor another owner's.
	for _, name := range []string{"session/renewed", "refresh/renewed"} {
		if ok, err := s.RenewLease(ctx, name, "replica-1", time.Minute); err != nil || ok {
			t.Errorf("%s: renewing a lease nobody took: %v, %v; want false", name, ok, err)
		}
		if ok, _ := s.Lease(ctx, name, "replica-1", time.Minute); !ok {
			t.Fatalf("%s: a free lease was refused", name)
		}
		if ok, err := s.RenewLease(ctx, name, "replica-1", time.Minute); err != nil || !ok {
			t.Errorf("%s: the holder's renewal: %v, %v; want true", name, ok, err)
		}
		if ok, _ := s.RenewLease(ctx, name, "replica-2", time.Minute); ok {
			t.Errorf("%s: another owner renewed a held lease", name)
		}
		must(t, "ReleaseLease", s.ReleaseLease(ctx, name, "replica-1"))
		if ok, err := s.RenewLease(ctx, name, "replica-1", time.Minute); err != nil || ok {
			t.Errorf("%s: renewing a released lease: %v, %v; want false", name, ok, err)
		}
		if ok, _ := s.Lease(ctx, name, "replica-2", time.Minute); !ok {
			t.Errorf("%s: a released lease, renewed by its former owner, was refused to another", name)
		}
		if ok, _ := s.RenewLease(ctx, name, "replica-1", time.Minute); ok {
			t.Errorf("%s: the former owner renewed a lease another owner took", name)
		}
	}
	// An expired lease goes to whoever asks.
	if ok, _ := s.Lease(ctx, "refresh/x", "replica-1", time.Millisecond); !ok {
		t.Fatal("lease refused")
	}
	time.Sleep(20 * time.Millisecond)
	if ok, _ := s.Lease(ctx, "refresh/x", "replica-2", time.Minute); !ok {
		t.Error("an expired lease was not taken over")
	}
	// Exactly one of many concurrent takers wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if ok, err := s.Lease(ctx, "session/race", fmt.Sprint("r", i), time.Minute); err == nil && ok {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("%d owners won one lease, want 1", winners)
	}
}

// testAPIKeyPending: a key an operator made stays pending until its creator
// allows it, across reads, the list and updates; a store that drops the
// flag would let the key act for its creator unasked.
func testAPIKeyPending(t *testing.T, open func(t *testing.T) tandem.Store) {
	s := open(t)
	ctx := t.Context()
	pending := tandem.APIKey{Prefix: "tdm_pend1111", Hash: "hash-of-FAKE-pending", Name: "made-for-U1", Team: "T1", Creator: "U1", CreatedAt: T0, Pending: true}
	own := tandem.APIKey{Prefix: "tdm_mine2222", Hash: "hash-of-FAKE-own", Name: "laptop", Team: "T1", Creator: "U1", CreatedAt: T0}
	must(t, "SaveAPIKey pending", s.SaveAPIKey(ctx, pending))
	must(t, "SaveAPIKey own", s.SaveAPIKey(ctx, own))
	want := map[string]bool{pending.Prefix: true, own.Prefix: false}
	for _, k := range []tandem.APIKey{pending, own} {
		got, err := s.APIKeyByHash(ctx, k.Hash)
		must(t, "APIKeyByHash "+k.Prefix, err)
		if got.Pending != want[k.Prefix] {
			t.Errorf("APIKeyByHash(%s).Pending = %t, want %t", k.Prefix, got.Pending, want[k.Prefix])
		}
	}
	list, err := s.APIKeys(ctx, "T1", "U1")
	must(t, "APIKeys", err)
	if len(list) != 2 {
		t.Errorf("APIKeys lists %d keys, want 2", len(list))
	}
	for _, k := range list {
		if k.Pending != want[k.Prefix] {
			t.Errorf("APIKeys: %s has Pending %t, want %t", k.Prefix, k.Pending, want[k.Prefix])
		}
	}

	// UpdateAPIKey sees the flag, keeps it through an unrelated change, and
	// stores its creator allowing the key.
	upd, err := s.UpdateAPIKey(ctx, pending.Prefix, func(k *tandem.APIKey) error {
		if !k.Pending {
			t.Error("UpdateAPIKey's fn sees a pending key as allowed")
		}
		k.LastUsed = T0.Add(time.Minute)
		return nil
	})
	must(t, "UpdateAPIKey", err)
	if !upd.Pending {
		t.Error("UpdateAPIKey returned a pending key as allowed")
	}
	if got, _ := s.APIKeyByHash(ctx, pending.Hash); !got.Pending {
		t.Error("an unrelated UpdateAPIKey allowed a pending key")
	}
	upd, err = s.UpdateAPIKey(ctx, pending.Prefix, func(k *tandem.APIKey) error { k.Pending = false; return nil })
	must(t, "UpdateAPIKey to allowed", err)
	if upd.Pending {
		t.Error("UpdateAPIKey to allowed returned a pending key")
	}
	if got, _ := s.APIKeyByHash(ctx, pending.Hash); got.Pending {
		t.Error("a key its creator allowed reads back pending")
	}
	if list, _ := s.APIKeys(ctx, "T1", "U1"); len(list) != 2 || list[0].Pending || list[1].Pending {
		t.Errorf("APIKeys after allowing = %+v; want two keys, neither pending", list)
	}
}
