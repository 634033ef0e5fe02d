// Package sessiontest is for tests of session.Store: Run, the suite
// every implementation passes, and Memory, a Store in memory.
package sessiontest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/contentapi/token"
)

// Memory is a session.Store in a map, for tests.
type Memory struct {
	mu sync.Mutex
	m  map[string]session.Session
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{m: map[string]session.Session{}} }

// Create implements session.Store.
func (s *Memory) Create(_ context.Context, ss session.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[ss.ID] = ss
	return nil
}

// Get implements session.Store.
func (s *Memory) Get(_ context.Context, id string) (session.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[id]
	if !ok {
		return session.Session{}, session.ErrNotFound
	}
	return ss, nil
}

// Touch implements session.Store.
func (s *Memory) Touch(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.m[id]; ok {
		ss.LastSeen = at
		s.m[id] = ss
	}
	return nil
}

// Delete implements session.Store.
func (s *Memory) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

// DeleteAllForUser implements session.Store.
func (s *Memory) DeleteAllForUser(_ context.Context, email string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ss := range s.m {
		if ss.Email == email {
			delete(s.m, id)
		}
	}
	return nil
}

// Len is the number of sessions kept.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Run is the conformance suite of a session.Store; newStore returns an
// empty one.
func Run(t *testing.T, newStore func(t *testing.T) session.Store) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(email string) session.Session {
		return session.Session{ID: token.Hash(token.New()), Email: email, Created: at, LastSeen: at}
	}

	t.Run("CreateGet", func(t *testing.T) {
		st := newStore(t)
		s := mk("alice@example.com")
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s, got, timeEqual); diff != "" {
			t.Errorf("Get (-want +got):\n%s", diff)
		}
	})
	t.Run("UnknownIsNotFound", func(t *testing.T) {
		st := newStore(t)
		if _, err := st.Get(ctx, token.Hash(token.New())); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
		}
		if err := st.Touch(ctx, token.Hash(token.New()), at); err != nil {
			t.Errorf("Touch(unknown) = %v", err)
		}
		if err := st.Delete(ctx, token.Hash(token.New())); err != nil {
			t.Errorf("Delete(unknown) = %v", err)
		}
	})
	t.Run("Touch", func(t *testing.T) {
		st := newStore(t)
		s := mk("alice@example.com")
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		later := at.Add(7 * time.Minute)
		if err := st.Touch(ctx, s.ID, later); err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastSeen.Equal(later) || !got.Created.Equal(at) {
			t.Errorf("after Touch: created %v, last seen %v; want %v, %v", got.Created, got.LastSeen, at, later)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		st := newStore(t)
		a, b := mk("alice@example.com"), mk("alice@example.com")
		for _, s := range []session.Session{a, b} {
			if err := st.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Delete(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, a.ID); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("deleted: Get = %v", err)
		}
		if _, err := st.Get(ctx, b.ID); err != nil {
			t.Errorf("the user's other session: Get = %v", err)
		}
	})
	t.Run("DeleteAllForUser", func(t *testing.T) {
		st := newStore(t)
		a1, a2, b := mk("alice@example.com"), mk("alice@example.com"), mk("bob@example.com")
		for _, s := range []session.Session{a1, a2, b} {
			if err := st.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.DeleteAllForUser(ctx, "alice@example.com"); err != nil {
			t.Fatal(err)
		}
		for _, s := range []session.Session{a1, a2} {
			if _, err := st.Get(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("alice's session after sign-out everywhere: Get = %v", err)
			}
		}
		if _, err := st.Get(ctx, b.ID); err != nil {
			t.Errorf("bob's session: Get = %v", err)
		}
	})
}

var timeEqual = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
