package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/vagate/vagate/core/httpapi"
	"github.com/vagate/vagate/core/telemetry"
)

// BenchmarkTracingOverhead runs the same 3-item create-and-wait through the
// whole in-process gateway and mocks with tracing off and with every span
// sampled and exported, in one run, and reports the throughput ratio.
func BenchmarkTracingOverhead(b *testing.B) {
	off, err := telemetry.New(b.Context(), telemetry.Config{})
	if err != nil {
		b.Fatal(err)
	}
	on, err := telemetry.New(b.Context(), telemetry.Config{SpanExporter: tracetest.NewNoopExporter(), SampleRatio: 1})
	if err != nil {
		b.Fatal(err)
	}
	rigs := []*tracedRig{newTracedRig(b, off), newTracedRig(b, on)}
	body := `{"items":[{"currency":"USD","unallocated":true},{"currency":"USD","unallocated":true},{"currency":"GBP","accountHolderName":"A","accountName":"A","provider":"masterfiat"}]}`
	n := max(b.N, 20)
	rates := make([]float64, 2)
	b.ResetTimer()
	for i, r := range rigs {
		tok, _ := httpapi.MintToken(r.auth, "bench", httpapi.AllPermissions(), time.Hour)
		start := time.Now()
		for range n {
			if resp := r.create(b, tok, body); resp.StatusCode != 200 {
				b.Fatalf("create: %d", resp.StatusCode)
			}
		}
		rates[i] = float64(n) / time.Since(start).Seconds()
	}
	b.ReportMetric(rates[0], "off-creates/s")
	b.ReportMetric(rates[1], "on-creates/s")
	b.ReportMetric(rates[1]/rates[0], "create-on/off")

	// Reads refreshed from the provider: CPU-bound, so tracing's own cost shows.
	reads := make([]float64, 2)
	for i, r := range rigs {
		tok, _ := httpapi.MintToken(r.auth, "bench", httpapi.AllPermissions(), time.Hour)
		id := firstAccount(b, r, tok)
		start := time.Now()
		for range n * 5 {
			resp, err := http.DefaultClient.Do(authed(b, "GET", r.api.URL+"/v1/virtual-accounts/"+id+"?refresh=true", tok))
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("read: %v %v", resp, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		reads[i] = float64(n*5) / time.Since(start).Seconds()
	}
	b.ReportMetric(reads[0], "off-reads/s")
	b.ReportMetric(reads[1], "on-reads/s")
	b.ReportMetric(reads[1]/reads[0], "read-on/off")
	b.ReportMetric(0, "ns/op")
}

func authed(b *testing.B, method, url, tok string) *http.Request {
	req, err := http.NewRequestWithContext(b.Context(), method, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return req
}

// firstAccount is the id of one of the tenant's batchva accounts.
func firstAccount(b *testing.B, r *tracedRig, tok string) string {
	resp, err := http.DefaultClient.Do(authed(b, "GET", r.api.URL+"/v1/virtual-accounts?provider=batchva&limit=1", tok))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct{ Items []struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&page)
	if len(page.Items) == 0 {
		b.Fatal("no account to read")
	}
	return page.Items[0].ID
}
