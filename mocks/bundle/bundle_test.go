package bundle_test

import (
	"slices"
	"testing"

	"github.com/vagate/vagate/mocks/bundle"
	"github.com/vagate/vagate/mocks/masterfiatmock"
)

// Every block points at the mock's URL; callbacks are configured exactly
// when a callback URL is given, and masterfiat's subscription is registered
// at the mock with the secret the block carries.
func TestBlocks(t *testing.T) {
	const mockURL, callback = "http://127.0.0.1:9999", "http://gw.test/v1/providers/x/webhooks"
	callbackKeys := map[string]string{"batchva": "callbackUrl", "masterfiat": "webhookSecret"}
	for _, m := range bundle.Mocks {
		for _, cb := range []string{"", callback} {
			t.Run(m.Style+"/callback="+cb, func(t *testing.T) {
				srv, block := m.New(bundle.Settings{Seed: 1})
				t.Cleanup(srv.Close)
				b, err := block(mockURL, cb)
				if err != nil {
					t.Fatal(err)
				}
				if b["baseUrl"] != mockURL {
					t.Errorf("baseUrl = %v, want %s", b["baseUrl"], mockURL)
				}
				key, calls := callbackKeys[m.Style]
				if _, has := b[key]; calls && has != (cb != "") {
					t.Errorf("block %v: has %s = %v with callback URL %q", b, key, has, cb)
				}
				mf, ok := srv.(*masterfiatmock.Mock)
				if !ok {
					return
				}
				hooks := mf.Webhooks()
				switch {
				case cb == "" && len(hooks) != 0:
					t.Errorf("webhooks %v registered without a callback URL", hooks)
				case cb != "" && (len(hooks) != 1 || hooks[0].URL != cb || hooks[0].SecretKey != b["webhookSecret"]):
					t.Errorf("webhooks %+v, want one to %s signed with the block's webhookSecret", hooks, cb)
				}
			})
		}
	}
}

func TestStylesInPortOrder(t *testing.T) {
	want := []string{"batchva", "subaccount", "parentprimary", "masterfiat"}
	if got := bundle.Styles(); !slices.Equal(got, want) {
		t.Errorf("Styles() = %v, want %v (mockbank's ports follow this order)", got, want)
	}
}
