package adaptertest

import (
	"testing"

	"github.com/vagate/vagate/core/provider"
)

// RunBenchmarks measures the adapter behind the portable layer, opened the
// production way, against the harness's provider: creating one account
// (waiting for it at an asynchronous provider) and reading one.
func RunBenchmarks(b *testing.B, newHarness HarnessMaker) {
	b.Run("CreateSingle", func(b *testing.B) {
		f := newFixture(b, newHarness)
		b.ReportAllocs()
		for b.Loop() {
			res, err := f.p.CreateAccounts(b.Context(), &provider.CreateRequest{IdempotencyKey: newKey(),
				Items: withReferences([]provider.CreateItem{f.h.Item(ref(b))})})
			if err != nil || res[0].Err != nil {
				b.Fatalf("create: %v %v", err, res)
			}
		}
	})
	b.Run("Get", func(b *testing.B) {
		f := newFixture(b, newHarness)
		id := create(b, f, f.h.Item(ref(b)))[0].Account.ProviderAccountID
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.p.GetAccount(b.Context(), id); err != nil {
				b.Fatalf("get: %v", err)
			}
		}
	})
}
