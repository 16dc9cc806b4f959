package subaccount_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/vagate/vagate/adapters/subaccount"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/mocks/subaccountmock"
)

func ExampleOpen() {
	m := subaccountmock.New(&subaccountmock.Options{Seed: 1})
	defer m.Close()
	srv := httptest.NewServer(m)
	defer srv.Close()

	a, err := subaccount.Open(subaccount.Config{
		BaseURL:            srv.URL,
		APIKey:             subaccount.Secret(subaccountmock.DefaultAPIKey),
		SettlementAccounts: m.SettlementAccounts(),
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := a.CreateAccounts(context.Background(), &provider.CreateRequest{Items: []provider.CreateItem{{
		Currency: "NGN", AccountHolderName: "Acme Ltd", AccountName: "Procurement", ClientReference: "proc-123",
		Params: map[string]string{subaccount.ParamIdentifier: "procurement-123"},
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	acc := res.Items[0].Account
	fmt.Println(acc.Status, acc.BankDetails[0].Type, acc.BankDetails[0].AccountHolderName, acc.Balance.Available)
	// Output: ACTIVE NUBAN Institution - procurement-123 0.00
}
