package batchvamock_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/vagate/vagate/mocks/batchvamock"
)

func ExampleNew() {
	m := batchvamock.New(&batchvamock.Options{Seed: 1})
	defer m.Close()
	srv := httptest.NewServer(m)
	defer srv.Close()

	tok, _ := m.Token(batchvamock.DefaultClient().ID)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/virtual-accounts",
		strings.NewReader(`{"items":[{"currency":"USD","unallocated":true}]}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	var acc struct {
		Status string `json:"status"`
	}
	json.NewDecoder(res.Body).Decode(&acc)
	fmt.Println(res.StatusCode, acc.Status)
	// Output: 202 Pending
}
