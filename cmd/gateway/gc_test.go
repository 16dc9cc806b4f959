package main

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

// The gateway's collector target is 200 unless the operator set GOGC or
// GOMEMLIMIT, whose choice then stands.
func TestTuneGC(t *testing.T) {
	cases := []struct {
		name, gogc, memlimit string
		want                 int
	}{
		{"neither set", "", "", defaultGCPercent},
		{"GOGC set", "150", "", 100},
		{"GOMEMLIMIT set", "", "512MiB", 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.gogc)
			t.Setenv("GOMEMLIMIT", tc.memlimit)
			prev := debug.SetGCPercent(100)
			t.Cleanup(func() { debug.SetGCPercent(prev) })
			tuneGC(slog.New(slog.DiscardHandler))
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("GOGC=%q GOMEMLIMIT=%q: collector target %d, want %d", tc.gogc, tc.memlimit, got, tc.want)
			}
		})
	}
}
