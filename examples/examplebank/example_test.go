package examplebank_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/examples/examplebank"
	"github.com/vagate/vagate/examples/examplebank/examplebankmock"
)

func ExampleOpen() {
	m := examplebankmock.New(&examplebankmock.Options{Seed: 1})
	srv := httptest.NewServer(m)
	defer srv.Close()

	a, err := examplebank.Open(examplebank.Config{BaseURL: srv.URL, APIKey: examplebankmock.DefaultAPIKey}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	req := &provider.CreateRequest{IdempotencyKey: "6f1c2b1e-8f0a-4a57-9d0e-2f4f0a0b7c11", Items: []provider.CreateItem{{
		Currency: "EUR", AccountHolderName: "Jane Smith", AccountName: "Jane EUR", ClientReference: "jane-eur",
	}}}
	first, err := a.CreateAccounts(context.Background(), req)
	if err != nil {
		fmt.Println(err)
		return
	}
	again, err := a.CreateAccounts(context.Background(), req) // a resend: same keys, same account
	if err != nil {
		fmt.Println(err)
		return
	}
	acc := first.Items[0].Account
	fmt.Println(acc.Status, acc.AccountName, acc.BankDetails[0].Type, again.Items[0].Account.ProviderAccountID == acc.ProviderAccountID,
		m.CountByReference("jane-eur"))
	// Output: ACTIVE Jane EUR ACCOUNT_NUMBER true 1
}
