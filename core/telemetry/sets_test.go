package telemetry

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

func TestSetsKeepOneSetPerKey(t *testing.T) {
	var s Sets[[2]string]
	cases := []struct {
		key  [2]string
		kvs  []attribute.KeyValue
		want string
	}{
		{[2]string{"GET", "/a"}, []attribute.KeyValue{attribute.String("route", "/a"), attribute.String("method", "GET")}, "method=GET,route=/a"},
		{[2]string{"POST", "/a"}, []attribute.KeyValue{attribute.String("method", "POST"), attribute.String("route", "/a")}, "method=POST,route=/a"},
		// The same key again answers the set built first.
		{[2]string{"GET", "/a"}, []attribute.KeyValue{attribute.String("other", "x")}, "method=GET,route=/a"},
	}
	for _, tc := range cases {
		cfg := metric.NewAddConfig([]metric.AddOption{s.Get(tc.key, tc.kvs...)})
		set := cfg.Attributes()
		if got := set.Encoded(attribute.DefaultEncoder()); got != tc.want {
			t.Errorf("Get(%v) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func BenchmarkSetsGet(b *testing.B) {
	var s Sets[[2]string]
	b.ReportAllocs()
	for b.Loop() {
		s.Get([2]string{"GET", "/v1/virtual-accounts/:id"}, attribute.String("route", "/v1/virtual-accounts/:id"), attribute.Int("status", 200))
	}
}
