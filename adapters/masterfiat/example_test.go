package masterfiat_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/vagate/vagate/adapters/masterfiat"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/mocks/masterfiatmock"
)

func ExampleOpen() {
	m := masterfiatmock.New(&masterfiatmock.Options{FiatAccounts: masterfiatmock.DefaultFiatAccounts()})
	defer m.Close()
	srv := httptest.NewServer(m)
	defer srv.Close()

	def := masterfiatmock.DefaultClient()
	a, err := masterfiat.Open(masterfiat.Config{
		BaseURL: srv.URL, ClientID: def.ID, ClientSecret: masterfiat.Secret(def.Secret),
		MasterFiatAccounts: map[string]string{"GBP": "fac_gbp000000000000001"},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := a.CreateAccounts(context.Background(), &provider.CreateRequest{Items: []provider.CreateItem{{
		Currency: "GBP", AccountHolderName: "Jane Smith", AccountName: "Jane GBP", ClientReference: "USER-1",
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	acc := res.Items[0].Account
	fmt.Println(acc.Status, acc.ProviderStatus, acc.AccountName, acc.ClientReference)
	// Output: PENDING CREATED Jane GBP USER-1
}
