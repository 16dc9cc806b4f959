package httpapi_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vagate/vagate/adapters/batchva"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/httpapi"
)

func TestParseCreate(t *testing.T) {
	body := `{"customHeaders":{"X-Batch":"b1"},"items":[
		{"currency":"USD","accountHolderName":"Test Company Ltd","accountName":"Acct 1","clientReference":"R1","dob":"1985-05-20",
		 "nativeLanguageName":"Jane","customerId":"cus_1","metadata":{"k":"v"},"provider":"batchva"},
		{"currency":"USD","unallocated":true,"clientReference":"U1","accountName":null}]}`
	got, fs := httpapi.ParseCreate([]byte(body))
	if len(fs) != 0 {
		t.Fatalf("errors: %+v", fs)
	}
	it := got.Items[0]
	if len(got.Items) != 2 || it.Provider != "batchva" || it.Account.DOB != "1985-05-20" || it.Account.Metadata["k"] != "v" ||
		it.Account.CustomerID != "cus_1" || got.CustomHeaders["X-Batch"] != "b1" || !got.Items[1].Account.Unallocated {
		t.Errorf("parsed = %+v", got)
	}
}

// TestParseCreateChecksShapeOnly: the parser reports wrong JSON, types,
// missing required fields and unknown fields, each at its pointer; an item
// with a wrong shape is left out of what it returns (nil at its index), and
// the values of well-formed fields are the gateway's to judge.
func TestParseCreateChecksShapeOnly(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		pointers []string // the errors, in order
		readable []bool   // per item: returned for the gateway's rules
	}{
		{"not JSON", `{"items":[`, []string{""}, nil},
		{"not an object", `[1]`, []string{""}, nil},
		{"unknown top-level field", `{"bogus":1,"items":[{"currency":"USD"}]}`, []string{"/bogus"}, []bool{true}},
		{"items missing", `{}`, []string{"/items"}, nil},
		{"items null", `{"items":null}`, []string{"/items"}, nil},
		{"items not an array", `{"items":{}}`, []string{"/items"}, nil},
		{"no items", `{"items":[]}`, []string{"/items"}, nil},
		{"currency missing or null", `{"items":[{"accountName":"B"},{"currency":null}]}`,
			[]string{"/items/0/currency", "/items/1/currency"}, []bool{false, false}},
		{"wrong types", `{"items":[{"currency":5,"unallocated":"yes","accountHolderName":["A"],"metadata":{"k":1},"providerParams":[]}]}`,
			[]string{"/items/0/currency", "/items/0/unallocated", "/items/0/accountHolderName", "/items/0/metadata/k", "/items/0/providerParams"}, []bool{false}},
		{"an item not an object", `{"items":[{"currency":"USD"},7]}`, []string{"/items/1"}, []bool{true, false}},
		{"unknown item field", `{"items":[{"currency":"USD","colour":"red"},{"currency":"EUR"}]}`, []string{"/items/0/colour"}, []bool{false, true}},
		{"callbackUrl and customHeaders types", `{"callbackUrl":1,"customHeaders":{"X-A":true},"items":[{"currency":"USD"}]}`,
			[]string{"/callbackUrl", "/customHeaders/X-A"}, []bool{true}},
		{"values are not judged here", `{"items":[{"currency":"usd","accountName":"` + strings.Repeat("n", 300) + `","dob":"tomorrow"}]}`,
			nil, []bool{true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, fs := httpapi.ParseCreate([]byte(tc.body))
			var pointers []string
			for _, f := range fs {
				pointers = append(pointers, f.Pointer)
				if f.Message == "" {
					t.Errorf("%s has no message", f.Pointer)
				}
			}
			if !slices.Equal(pointers, tc.pointers) {
				t.Errorf("errors at %q, want %q: %+v", pointers, tc.pointers, fs)
			}
			if tc.readable == nil {
				if got != nil && len(got.Items) != 0 {
					t.Errorf("items returned: %+v", got.Items)
				}
				return
			}
			if got == nil || len(got.Items) != len(tc.readable) {
				t.Fatalf("parsed %+v, want %d items", got, len(tc.readable))
			}
			for i, want := range tc.readable {
				if (got.Items[i] != nil) != want {
					t.Errorf("item %d returned = %v, want %v", i, got.Items[i] != nil, want)
				}
			}
		})
	}
}

func TestParseUpdate(t *testing.T) {
	tests := []struct {
		body    string
		pointer string // "-": no error
	}{
		{`{"clientReference":"x"}`, "-"},
		{`{"clientReference":""}`, "-"},
		{`{"accountName":"  ","dob":"tomorrow"}`, "-"}, // values: the gateway's rules
		{`{"accountName":null}`, "/accountName"},
		{`{"accountName":5}`, "/accountName"},
		{`{}`, ""},
		{`[]`, ""},
		{`nope`, ""},
		{`{"currency":"USD"}`, "/currency"},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			u, fs := httpapi.ParseUpdate([]byte(tc.body))
			if tc.pointer == "-" {
				if len(fs) != 0 || u == nil {
					t.Fatalf("unexpected errors %+v", fs)
				}
				return
			}
			if len(fs) == 0 || fs[0].Pointer != tc.pointer || u != nil {
				t.Fatalf("errors %+v, want pointer %q", fs, tc.pointer)
			}
		})
	}
}

func TestParseClose(t *testing.T) {
	r, fs := httpapi.ParseClose(nil)
	if len(fs) != 0 || r == nil {
		t.Fatalf("empty body: %v %v", r, fs)
	}
	r, fs = httpapi.ParseClose([]byte(`{"reason":"fraud","requestedBy":"ops","notes":"n"}`))
	if len(fs) != 0 || r.Reason != "fraud" || r.RequestedBy != "ops" || r.Notes != "n" {
		t.Fatalf("close = %+v %v", r, fs)
	}
	if _, fs = httpapi.ParseClose([]byte(`{"why":"x"}`)); len(fs) != 1 || fs[0].Pointer != "/why" {
		t.Fatalf("unknown field: %v", fs)
	}
	if _, fs = httpapi.ParseClose([]byte(`{"notes":["x"]}`)); len(fs) != 1 || fs[0].Pointer != "/notes" {
		t.Fatalf("notes not a string: %v", fs)
	}
}

func TestParsePrefer(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"", 0, false},
		{"respond-async", 0, false},
		{"wait=5", 5 * time.Second, false},
		{"respond-async, wait=10", 10 * time.Second, false},
		{"Wait = 3", 3 * time.Second, false},
		{`wait="7"`, 7 * time.Second, false},
		{"wait=600", 60 * time.Second, false},
		{"wait=soon", 0, true},
		{"wait=-1", 0, true},
		{"wait=", 0, true},
		{"wait", 0, true},
		{"wait=1.5", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, fe := httpapi.ParsePrefer(tc.in, time.Minute)
			if (fe != nil) != tc.bad || got != tc.want {
				t.Errorf("ParsePrefer(%q) = %s, %v; want %s, bad=%v", tc.in, got, fe, tc.want, tc.bad)
			}
			if fe != nil && fe.Pointer != "/headers/Prefer" {
				t.Errorf("pointer = %s", fe.Pointer)
			}
		})
	}
}

// planner is a router over a batchva provider (USD, EUR, GBP...; a
// clientReference of at most 35 characters), as the create handler uses it;
// nothing is ever sent to it.
func planner(t testing.TB) *gateway.Router {
	t.Helper()
	a, err := batchva.Open(batchva.Config{BaseURL: "http://batchva.invalid", ClientID: "id", ClientSecret: "secret"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gateway.New("batchva", a, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := gateway.NewRegistry()
	reg.Register(p)
	r, err := gateway.NewRouter(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// check is what the create handler does with a body before it starts a
// job: its shape, then the gateway's rules on what could be read.
func check(r *gateway.Router, body []byte) (*httpapi.CreateBody, []gateway.Item, []bank.FieldError, error) {
	req, fs := httpapi.ParseCreate(body)
	if req == nil {
		return nil, nil, fs, nil
	}
	planned, err := r.Plan("t1", &req.Request)
	if bank.Code(err) == bank.InvalidArgument {
		fs = append(fs, bank.FieldsOf(err)...)
		err = nil
	}
	return req, planned, fs, err
}

// FuzzParseCreate: the parser never panics, names every bad field by a JSON
// pointer, answers exactly as the plain reading does (json.Valid, then one
// json.Unmarshal per field), and whatever passes it and the gateway's rules
// honours the unified contract.
func FuzzParseCreate(f *testing.F) {
	f.Add([]byte(`{"items":[{"currency":"USD","accountHolderName":"A","accountName":"B"}]}`))
	f.Add([]byte(`{"items":[{"currency":"USD","unallocated":true,"clientReference":"U"}],"customHeaders":{"X-A":"1"}}`))
	f.Add([]byte(`{"items":[{"currency":"usd","accountHolderName":"A","accountName":"B"},7,{"currency":"EUR","colour":1}]}`))
	// Keys given twice (the last counts), escapes, nulls, text that is not
	// UTF-8, nesting, numbers, and bodies that are not JSON.
	f.Add([]byte(`{"items":[{"currency":5,"currency":"USD","b":1,"a":[{}],"b":2}],"items":[{"curr\u0065ncy":"E\u00dfR","metadata":{"k":1,"k":"v","x/~":[]}}]}`))
	f.Add([]byte(`{"items":[null,{"currency":null,"unallocated":null,"metadata":null,"providerParams":{"p":null}}],"callbackUrl":null,"customHeaders":{"\ud800":"\udc00x"}}`))
	f.Add([]byte("{\"items\":[{\"currency\":\"\xff\xfeUSD\",\"accountName\":\"a\\/b\\n\",\"n\":-0.5e+10,\"m\":[true,false,null,1E2,\"\"]}]} "))
	f.Add([]byte(`{"items":[{"currency":"USD"},]}`))
	f.Add([]byte(`{"items":[{"currency":"USD"}]} {}`))
	f.Add([]byte(`{"items":[{"currency":01}]}`))
	f.Add([]byte(`{"items":[{"currency":"\x"}]}`))
	f.Add([]byte(`{"items":[[[[[[[[[[]]]]]]]]]],"customHeaders":"h","callbackUrl":{}}`))
	r := planner(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, fastErrs := httpapi.ParseCreate(body)
		ref, refErrs := httpapi.ReferenceParseCreate(body)
		if !reflect.DeepEqual(fast, ref) || !slices.Equal(fastErrs, []bank.FieldError(refErrs)) {
			t.Fatalf("%q: read as %+v with errors %+v; the plain reading gives %+v with errors %+v", body, fast, fastErrs, ref, refErrs)
		}
		got, planned, fs, err := check(r, body)
		for _, e := range fs {
			if e.Message == "" || (e.Pointer != "" && e.Pointer[0] != '/') {
				t.Fatalf("bad field error %+v", e)
			}
		}
		if len(fs) > 0 || err != nil {
			return
		}
		if got == nil || len(got.Items) == 0 || len(got.Items) > httpapi.MaxItems || len(planned) != len(got.Items) {
			t.Fatalf("accepted %v", got)
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		for i, it := range planned {
			a := it.Account
			if it.Provider != "batchva" || !bank.ValidCurrency(a.Currency) {
				t.Fatalf("item %d: accepted %+v", i, it)
			}
			if !a.Unallocated && (strings.TrimSpace(a.AccountName) == "" || strings.TrimSpace(a.AccountHolderName) == "") {
				t.Fatalf("item %d: accepted a named item without names", i)
			}
			if utf8.RuneCountInString(a.ClientReference) > 35 || utf8.RuneCountInString(a.AccountName) > 255 {
				t.Fatalf("item %d: accepted an over-long field", i)
			}
			if !utf8.ValidString(a.AccountName) || strings.ContainsRune(a.AccountName, utf8.RuneError) {
				t.Fatalf("item %d: accepted a name that is not UTF-8 text", i)
			}
		}
	})
}

// A request with bad items of both kinds names them all: the shape of one,
// the values of another.
func TestShapeAndRulesReportedTogether(t *testing.T) {
	body := `{"items":[{"currency":"USD","accountHolderName":"A","accountName":"B","colour":"red"},` +
		`{"provider":"batchva","currency":"usd","accountHolderName":"A","accountName":"B","clientReference":"` + strings.Repeat("r", 36) + `"}],` +
		`"customHeaders":{"bad header":"v"}}`
	_, _, fs, err := check(planner(t), []byte(body))
	var got []string
	for _, f := range fs {
		got = append(got, f.Pointer)
	}
	want := []string{"/items/0/colour", "/items/1/currency", "/items/1/clientReference", "/customHeaders/bad header"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("errors at %q (%v), want %q", got, err, want)
	}
}

func TestNamesWithInvalidUTF8OrControlCharactersAreRefused(t *testing.T) {
	r := planner(t)
	item := func(field, value string) []byte {
		v, _ := json.Marshal(value)
		if !utf8.ValidString(value) {
			v = []byte(`"` + value + `"`) // json.Marshal would repair it
		}
		switch field {
		case "metadata":
			return []byte(`{"items":[{"currency":"USD","accountHolderName":"A","accountName":"B","metadata":{"k":` + string(v) + `}}]}`)
		case "customHeaders":
			return []byte(`{"customHeaders":{"X-Batch":` + string(v) + `},"items":[{"currency":"USD","accountHolderName":"A","accountName":"B"}]}`)
		}
		return []byte(`{"items":[{"currency":"USD","accountHolderName":"A","accountName":"B","` + field + `":` + string(v) + `}]}`)
	}
	pointer := map[string]string{"metadata": "/items/0/metadata/k", "customHeaders": "/customHeaders/X-Batch"}
	for _, field := range []string{"accountHolderName", "accountName", "nativeLanguageName", "clientReference", "metadata", "customHeaders"} {
		for name, value := range map[string]string{
			"invalid UTF-8":       "Jane \xff Smith",
			"lone surrogate":      `Jane \ud800 Smith`,
			"NUL":                 "Jane\x00Smith",
			"ESC":                 "Jane\x1b[31mSmith",
			"CRLF":                "Jane\r\nX-Injected: 1",
			"bidi override":       "Jane \u202eoG htimS",
			"zero-width no-break": "\ufeffJane",
			"line separator":      "Jane\u2028Smith",
		} {
			t.Run(field+"/"+name, func(t *testing.T) {
				body := item(field, value)
				if name == "lone surrogate" {
					body = []byte(strings.Replace(string(body), `\\ud800`, `\ud800`, 1))
				}
				_, _, fs, _ := check(r, body)
				want := pointer[field]
				if want == "" {
					want = "/items/0/" + field
				}
				found := false
				for _, e := range fs {
					found = found || e.Pointer == want
				}
				if !found {
					t.Errorf("%q: errors %+v, want one at %s", body, fs, want)
				}
			})
		}
	}
	// Real names in any script still pass, ZWNJ (Persian) included.
	for _, ok := range []string{"Zoë Ångström-O'Brien", "محمد\u200cرضا", "山田 太郎", "Ünal & Söhne GmbH"} {
		if _, _, fs, err := check(r, item("accountHolderName", ok)); len(fs) != 0 || err != nil {
			t.Errorf("%q refused: %+v %v", ok, fs, err)
		}
	}
}
