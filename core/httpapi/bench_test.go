package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vagate/vagate/core/httpapi"
)

func BenchmarkParseCreate(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`{"currency":"USD","accountHolderName":"Test Company Ltd","accountName":"Account %d","clientReference":"REF-%d","metadata":{"k":"v"}}`, i, i)
		}
		body := []byte(`{"items":[` + strings.Join(parts, ",") + `]}`)
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, fs := httpapi.ParseCreate(body); len(fs) != 0 {
					b.Fatal(fs)
				}
			}
		})
	}
}

// BenchmarkCreateAndWait is one create of 10 items through the whole HTTP
// API, the job engine, the batchva adapter and its mock, waiting for the job.
func BenchmarkCreateAndWait(b *testing.B) {
	a := newAPIB(b)
	tok := a.tokenB(b, "bench")
	body := items(10, `{"currency":"USD","unallocated":true}`)
	b.ReportAllocs()
	for b.Loop() {
		resp, out := a.callB(b, "POST", "/v1/virtual-accounts", tok, strings.NewReader(body), "Prefer", "wait=30")
		if resp.StatusCode != 200 {
			b.Fatalf("%d %s", resp.StatusCode, out)
		}
	}
}
