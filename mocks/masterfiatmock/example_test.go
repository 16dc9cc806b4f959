package masterfiatmock_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/vagate/vagate/mocks/masterfiatmock"
)

func ExampleNew() {
	m := masterfiatmock.New(&masterfiatmock.Options{Seed: 1, ActivationDelay: time.Hour,
		FiatAccounts: masterfiatmock.DefaultFiatAccounts()})
	defer m.Close()
	srv := httptest.NewServer(m)
	defer srv.Close()

	tok, _ := m.Token(masterfiatmock.DefaultClient().ID)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/virtual-accounts",
		strings.NewReader(`{"masterFiatAccountId":"fac_gbp000000000000001","currency":"GBP","label":"Jane"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	var v masterfiatmock.VirtualAccount
	json.NewDecoder(res.Body).Decode(&v)
	fmt.Println(res.StatusCode, v.Status, v.Owner.Type)
	// Output: 201 CREATED MEMBER
}
