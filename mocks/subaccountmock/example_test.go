package subaccountmock_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/vagate/vagate/mocks/subaccountmock"
)

func ExampleNew() {
	m := subaccountmock.New(&subaccountmock.Options{Seed: 1})
	defer m.Close()
	srv := httptest.NewServer(m)
	defer srv.Close()

	body := `{"classification":"institution","identifier":"procurement-123","currency":"NGN",` +
		`"client_reference":"proc-123","settlement_account_id":"` + m.SettlementAccounts()["NGN"] + `"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v2/sub-accounts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+subaccountmock.DefaultAPIKey)
	res, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			State            string `json:"state"`
			DepositAddresses []struct {
				Type string `json:"type"`
			} `json:"deposit_addresses"`
		} `json:"data"`
	}
	json.NewDecoder(res.Body).Decode(&out)
	fmt.Println(res.StatusCode, out.Data.State, out.Data.DepositAddresses[0].Type)
	// Output: 201 ACTIVE NUBAN
}
