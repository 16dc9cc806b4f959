package masterfiatmock_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/vagate/vagate/mocks/masterfiatmock"
	"github.com/vagate/vagate/mocks/seedcheck"
)

// The example ids of the document's Virtual Account object.
const (
	docFiatAccount = "fac_p96ed8b1k3n7zvma4o"
	docEndUser     = "eus_j82rl497g47g5ykvzn"
)

// docEnv is a mock holding the document's example master fiat account and
// end user.
func docEnv(t *testing.T, opts masterfiatmock.Options) *env {
	t.Helper()
	opts.ActivationDelay = -1
	opts.FiatAccounts = []masterfiatmock.FiatAccount{{ID: docFiatAccount, Currency: "GBP", Country: "GB"}}
	opts.EndUsers = []masterfiatmock.EndUser{{ID: docEndUser, Name: "Jane Smith"}}
	return newEnv(t, &opts)
}

// The document's Virtual Account object (shared/seeds 002, its attribute
// table put together in testdata/seed): the mock's account, once active,
// has every member with the documented type, the example's values where
// they follow from the request or the document, and nothing beyond; in
// both modes.
func TestSeedExamples(t *testing.T) {
	object, err := os.ReadFile(filepath.Join("testdata", "seed", "virtual-account-object.json"))
	if err != nil {
		t.Fatal(err)
	}
	generated := seedcheck.Generated{
		"id":                               `^vac_[a-z0-9]{18}$`,
		"businessId":                       `^biz_[a-z0-9]+$`, // the mock's member's business
		"createdAt":                        `^\d{13}$`,
		"updatedAt":                        `^\d{13}$`,
		"label":                            "",
		"metadata":                         `^\{.*\}$`,
		"bankDetails.0.bankName":           "",
		"bankDetails.0.accountHolderName":  "",
		"bankDetails.0.iban":               `^GB\d\d[A-Z]{4}\d{14}$`,
		"bankDetails.0.bic":                `^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$`,
		"bankDetails.0.accountNumber":      `^\d{8}$`,
		"bankDetails.0.routingCodes.value": `^\d{6}$`,
	}
	const request = `{"masterFiatAccountId":"` + docFiatAccount + `","currency":"GBP","endUserId":"` + docEndUser + `",
		"label":"Treasury","metadata":"{\"clientReference\":\"R-1\"}"}`
	for _, strict := range []bool{false, true} {
		t.Run(map[bool]string{false: "lenient", true: "strict"}[strict], func(t *testing.T) {
			e := docEnv(t, masterfiatmock.Options{Strict: strict})
			v := e.create(request)
			e.waitStatus(v.ID, masterfiatmock.StatusActive)
			r := e.do(http.MethodGet, "/api/v1/virtual-accounts/"+v.ID, "-", "")
			if r.status != http.StatusOK {
				t.Fatalf("get: %d %s", r.status, r.body)
			}
			for _, d := range seedcheck.Compare(object, r.body, generated) {
				t.Errorf("%s", d)
			}
			if extra := seedcheck.Extra(object, r.body); len(extra) > 0 {
				t.Errorf("the account has members the document does not describe: %v", extra)
			}
			var got struct{ Metadata string }
			r.decode(t, &got)
			if got.Metadata != `{"clientReference":"R-1"}` {
				t.Errorf("metadata = %q, want the string sent", got.Metadata)
			}
		})
	}
}

// metadata is typed string ("JSON key:value format"): a string holding an
// object is accepted in both modes, the object itself only leniently;
// either way the account shows the string.
func TestMetadataReadings(t *testing.T) {
	tests := []struct {
		name     string
		metadata string
		strict   bool
		status   int
	}{
		{"string, lenient", `"{\"k\":\"v\"}"`, false, http.StatusCreated},
		{"string, strict", `"{\"k\":\"v\"}"`, true, http.StatusCreated},
		{"object, lenient", `{"k":"v"}`, false, http.StatusCreated},
		{"object, strict", `{"k":"v"}`, true, http.StatusBadRequest},
		{"string not holding an object", `"k:v"`, false, http.StatusBadRequest},
		{"string holding a number value", `"{\"k\":1}"`, false, http.StatusBadRequest},
		{"empty string is none", `""`, true, http.StatusCreated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &masterfiatmock.Options{Strict: tc.strict})
			r := e.do(http.MethodPost, "/api/v1/virtual-accounts", "-", gbp(`,"metadata":`+tc.metadata))
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			if r.status != http.StatusCreated {
				return
			}
			var raw map[string]json.RawMessage
			r.decode(t, &raw)
			want := `"{\"k\":\"v\"}"`
			if tc.metadata == `""` {
				want = "null"
			}
			if string(raw["metadata"]) != want {
				t.Errorf("metadata = %s, want %s", raw["metadata"], want)
			}
		})
	}
}

// routingCodes is typed object but called "one or more": the object of the
// first code by default, every code as an array with RoutingCodesArray.
func TestRoutingCodesReadings(t *testing.T) {
	tests := []struct {
		name  string
		array bool
		want  string
	}{
		{"object", false, `{"type":"ABA","value":"`},
		{"array", true, `[{"type":"ABA","value":"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &masterfiatmock.Options{RoutingCodesArray: tc.array, ActivationDelay: -1})
			v := e.create(`{"masterFiatAccountId":"fac_usd000000000000001","currency":"USD"}`)
			e.waitStatus(v.ID, masterfiatmock.StatusActive)
			r := e.do(http.MethodGet, "/api/v1/virtual-accounts/"+v.ID, "-", "")
			var raw struct {
				BankDetails []map[string]json.RawMessage `json:"bankDetails"`
			}
			r.decode(t, &raw)
			if len(raw.BankDetails) != 1 || len(raw.BankDetails[0]["routingCodes"]) < len(tc.want) || string(raw.BankDetails[0]["routingCodes"][:len(tc.want)]) != tc.want {
				t.Errorf("bankDetails = %s", r.body)
			}
		})
	}
}

// The provider may block an account itself (compliance): the admin API
// does, and the status webhook goes out as for any change; the client can
// unblock it as usual.
func TestProviderBlock(t *testing.T) {
	e := newEnv(t, &masterfiatmock.Options{ActivationDelay: -1, UnblockDelay: -1})
	s := newSink(t)
	if _, err := e.m.AddWebhook(s.srv.URL, []string{masterfiatmock.EventStatusUpdated}, ""); err != nil {
		t.Fatal(err)
	}
	v := e.create(gbp(""))
	e.waitStatus(v.ID, masterfiatmock.StatusActive)
	tests := []struct {
		name   string
		path   string
		status int
		state  string
	}{
		{"provider blocks", "/__admin/accounts/" + v.ID + "/block", http.StatusOK, masterfiatmock.StatusBlocked},
		{"again: unchanged", "/__admin/accounts/" + v.ID + "/block", http.StatusOK, masterfiatmock.StatusBlocked},
		{"unknown account", "/__admin/accounts/vac_000000000000000000/block", http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, tc.path, "", "")
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.state != "" {
				if got, _ := e.m.Account(v.ID); got.Status != tc.state {
					t.Errorf("status %s, want %s", got.Status, tc.state)
				}
			}
		})
	}
	evs, _, _ := s.events(t, 2) // ACTIVE, then BLOCKED
	if last := evs[len(evs)-1]; last.Data.Status != masterfiatmock.StatusBlocked || last.PreviousValues["status"] != masterfiatmock.StatusActive {
		t.Errorf("last webhook = %+v, want ACTIVE → BLOCKED", last)
	}
	r := e.do(http.MethodPost, "/api/v1/virtual-accounts/"+v.ID+"/unblock", "-", "")
	if r.status != http.StatusOK {
		t.Fatalf("unblock: %d %s", r.status, r.body)
	}
	e.waitStatus(v.ID, masterfiatmock.StatusActive)
}
