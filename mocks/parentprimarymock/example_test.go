package parentprimarymock_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/vagate/vagate/mocks/parentprimarymock"
)

func ExampleNew() {
	m := parentprimarymock.New(&parentprimarymock.Options{PrimaryAccounts: parentprimarymock.DefaultPrimaryAccounts()})
	defer m.Close()
	srv := httptest.NewServer(m)
	defer srv.Close()

	p := parentprimarymock.DefaultPartner()
	body := `{"customerId":"a2b9649e-df7f-4349-adff-1c57283fef10","idempotencyKey":"1483d25d-3f00-4d39-90ce-2379a130becd",` +
		`"parentAccountId":"e0cab2dd-739f-43de-b131-3e423e935bf1","productCode":"FIAT_ACCOUNT_UK_V1"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/partner/accounts/virtual", strings.NewReader(body))
	date, nonce := time.Now().UTC().Format(http.TimeFormat), "5f0c1f7e-8a8e-4b5e-9d1e-3c2b1a0f9e8d"
	req.Header.Set("Authorization", "Bearer "+p.APIToken)
	req.Header.Set("Date", date)
	req.Header.Set("X-Alg-Nonce", nonce)
	req.Header.Set("X-Alg-Signature", parentprimarymock.Sign(p.SigningSecret, req.Method, req.URL.RequestURI(), date, nonce, []byte(body)))
	res, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	res.Body.Close()
	fmt.Println(res.StatusCode, m.Count(parentprimarymock.Filter{CustomerID: "a2b9649e-df7f-4349-adff-1c57283fef10"}))
	// Output: 200 1
}
