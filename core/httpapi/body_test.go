package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
	if len(got.Items) != 2 || it.Provider != "batchva" || it.Item.DOB != "1985-05-20" || it.Item.Metadata["k"] != "v" ||
		it.Item.CustomerID != "cus_1" || got.CustomHeaders["X-Batch"] != "b1" || !got.Items[1].Item.Unallocated {
		t.Errorf("parsed = %+v", got)
	}
}

func TestParseUpdate(t *testing.T) {
	tests := []struct {
		body    string
		pointer string
	}{
		{`{"clientReference":"x"}`, "-"},
		{`{"clientReference":""}`, "-"},
		{`{"accountName":"  "}`, "/accountName"},
		{`{"accountName":null}`, "/accountName"},
		{`{"dob":"tomorrow"}`, "/dob"},
		{`{"dob":"2999-01-01"}`, "/dob"},
		{`{}`, ""},
		{`[]`, ""},
		{`{"currency":"USD"}`, "/currency"},
		{`{"clientReference":` + `"` + strings.Repeat("r", 65) + `"}`, "/clientReference"},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			_, fs := httpapi.ParseUpdate([]byte(tc.body))
			if tc.pointer == "-" {
				if len(fs) != 0 {
					t.Fatalf("unexpected errors %+v", fs)
				}
				return
			}
			if len(fs) == 0 || fs[0].Pointer != tc.pointer {
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

// FuzzParseCreate: the create parser never panics, and whatever it accepts
// without error honours the unified contract.
func FuzzParseCreate(f *testing.F) {
	f.Add([]byte(`{"items":[{"currency":"USD","accountHolderName":"A","accountName":"B"}]}`))
	f.Add([]byte(`{"items":[{"currency":"USD","unallocated":true,"clientReference":"U"}],"customHeaders":{"X-A":"1"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, fs := httpapi.ParseCreate(body)
		for _, e := range fs {
			if e.Detail == "" || (e.Pointer != "" && e.Pointer[0] != '/') {
				t.Fatalf("bad field error %+v", e)
			}
		}
		if len(fs) > 0 {
			return
		}
		if got == nil || len(got.Items) == 0 || len(got.Items) > httpapi.MaxItems {
			t.Fatalf("accepted %v", got)
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		for i, it := range got.Items {
			c := it.Item.Currency
			if len(c) != 3 || strings.ToUpper(c) != c {
				t.Fatalf("item %d: accepted currency %q", i, c)
			}
			if !it.Item.Unallocated && (strings.TrimSpace(it.Item.AccountName) == "" || strings.TrimSpace(it.Item.AccountHolderName) == "") {
				t.Fatalf("item %d: accepted a named item without names", i)
			}
			if utf8.RuneCountInString(it.Item.ClientReference) > 64 || utf8.RuneCountInString(it.Item.AccountName) > 255 {
				t.Fatalf("item %d: accepted an over-long field", i)
			}
		}
	})
}

func TestNamesWithInvalidUTF8OrControlCharactersAreRefused(t *testing.T) {
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
				_, fs := httpapi.ParseCreate(body)
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
		if _, fs := httpapi.ParseCreate(item("accountHolderName", ok)); len(fs) != 0 {
			t.Errorf("%q refused: %+v", ok, fs)
		}
	}
	// Close notes may span lines.
	if _, fs := httpapi.ParseClose([]byte(`{"reason":"fraud","notes":"line one\nline two"}`)); len(fs) != 0 {
		t.Errorf("multi-line notes refused: %+v", fs)
	}
	if _, fs := httpapi.ParseUpdate([]byte(`{"accountName":"A\u202eB"}`)); len(fs) != 1 || fs[0].Pointer != "/accountName" {
		t.Errorf("update with a bidi override: %+v", fs)
	}
}
