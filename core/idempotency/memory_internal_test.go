package idempotency

import (
	"testing"
	"time"
)

func TestMemorySweep(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := NewMemory(&Options{TTL: time.Hour, ClaimTTL: time.Minute})
	s.now = func() time.Time { return now }
	ctx := t.Context()

	c, _, err := s.Begin(ctx, "s", "done", "fp")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, c, &Record{Status: 201}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Begin(ctx, "s", "abandoned", "fp"); err != nil {
		t.Fatal(err)
	}
	if got := s.Len(); got != 2 {
		t.Fatalf("Len = %d; want 2", got)
	}

	now = now.Add(2 * time.Minute) // the abandoned claim has expired, the record has not
	if _, _, err := s.Begin(ctx, "other", "k", "fp"); err != nil {
		t.Fatal(err)
	}
	if got := s.Len(); got != 2 {
		t.Fatalf("after claim expiry Len = %d; want 2 (record + new claim)", got)
	}

	now = now.Add(2 * time.Hour) // everything has expired
	if _, _, err := s.Begin(ctx, "other", "k2", "fp"); err != nil {
		t.Fatal(err)
	}
	if got := s.Len(); got != 1 {
		t.Fatalf("after record expiry Len = %d; want 1 (only the newest claim)", got)
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := (*Options)(nil).withDefaults()
	if o.TTL != 24*time.Hour || o.ClaimTTL != 5*time.Minute || o.Prefix != "vagate" {
		t.Fatalf("defaults = %+v", o)
	}
}
