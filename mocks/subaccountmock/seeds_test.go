package subaccountmock_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/vagate/vagate/mocks/seedcheck"
	"github.com/vagate/vagate/mocks/subaccountmock"
)

// readSeed reads one example of the provider's document, copied verbatim
// into testdata/seed.
func readSeed(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seed", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	uuidRE  = `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`
	stampRE = `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`
)

// Every JSON example of the document (shared/seeds 004), sent verbatim:
// the mock answers 201 with the example answer's members, equal except
// where the provider makes the value per call, and nothing beyond them; in
// both modes, since the examples give every parameter.
func TestSeedExamples(t *testing.T) {
	answer := readSeed(t, "create-response.json")
	// What the provider makes per call; every other member must equal the example's.
	generated := seedcheck.Generated{
		"data.id":           uuidRE,
		"data.created_date": stampRE,
		"data.updated_date": stampRE,
		"data.deposit_addresses.0.data.account_number": `^\d{10}$`,
		// The example's name, "Procurement Department", is in no request:
		// the document does not say where it comes from. The mock's choice
		// is the identifier (or "Customer " and the customer id's start).
		"data.name": "",
		"data.deposit_addresses.0.data.account_name": `^(Institution|Customer) - .+$`,
		// The institution's main account; the example's is one the document names nowhere else.
		"data.parent_account_id": uuidRE,
	}
	tests := []struct {
		name    string
		request string
		// echo is what the answer repeats of a request the document shows
		// no answer for.
		echo map[string]any
	}{
		{"institution sub-account", "institution-request.json", nil},
		{"customer sub-account", "customer-request.json", map[string]any{
			"data.client_reference": "customer-456", "data.settlement_account_id": subaccountmock.DocCustomerSettlementID}},
	}
	for _, mode := range []struct {
		name   string
		strict bool
	}{{"lenient", false}, {"strict", true}} {
		for _, tc := range tests {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				m := newMock(t, &subaccountmock.Options{Seed: 1, Strict: mode.strict})
				r := call(t, m, http.MethodPost, "/v2/sub-accounts", string(readSeed(t, tc.request)))
				if r.status != http.StatusCreated {
					t.Fatalf("status %d %s, want 201", r.status, r.body)
				}
				want := answer
				if tc.echo != nil {
					var err error
					if want, err = seedcheck.With(answer, tc.echo); err != nil {
						t.Fatal(err)
					}
				}
				for _, d := range seedcheck.Compare(want, r.body, generated) {
					t.Errorf("%s", d)
				}
				if extra := seedcheck.Extra(want, r.body); len(extra) > 0 {
					t.Errorf("the answer has members the document does not show: %v", extra)
				}
			})
		}
	}
}

// The document's parameter tables lost their Required marks: leniently
// client_reference and settlement_account_id are optional, strictly they
// are required.
func TestStrictRequiredParameters(t *testing.T) {
	const body = `{"classification":"institution","identifier":"ops","currency":"NGN"}`
	tests := []struct {
		name   string
		strict bool
		status int
		fields []string
	}{
		{"lenient", false, http.StatusCreated, nil},
		{"strict", true, http.StatusBadRequest, []string{"client_reference", "settlement_account_id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMock(t, &subaccountmock.Options{Strict: tc.strict})
			r := call(t, m, http.MethodPost, "/v2/sub-accounts", body)
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.fields == nil {
				return
			}
			var e apiError
			r.decode(t, &e)
			var got []string
			for _, d := range e.Error.Details {
				got = append(got, d.Field)
			}
			if len(got) != len(tc.fields) || got[0] != tc.fields[0] || got[1] != tc.fields[1] {
				t.Errorf("refused fields = %v, want %v", got, tc.fields)
			}
		})
	}
}
