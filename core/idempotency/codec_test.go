package idempotency

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRecordCodecRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 30, 16, 0, 0, 123456789, time.UTC)
	cases := []struct {
		name string
		r    Record
	}{
		{"empty", Record{CreatedAt: time.Unix(0, 0).UTC()}},
		{"answer", Record{Status: 202, Fingerprint: strings.Repeat("ab", 32), CreatedAt: at,
			Header: map[string][]string{"Content-Type": {"application/json"}, "Location": {"/v1/jobs/j1"}, "Vary": {"A", "B"}},
			Body:   []byte(`{"id":"j1","status":"Accepted"}`)}},
		{"empty header value and binary body", Record{Status: 500, CreatedAt: at, Header: map[string][]string{"X": {""}},
			Body: []byte{0, 1, 2, 0xff, '\n'}}},
		{"header with no values", Record{Status: 200, CreatedAt: at, Header: map[string][]string{"X": {}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := encodeRecord(nil, &tc.r)
			if !strings.HasPrefix(string(b), recordV2Tag) {
				t.Fatalf("encoding does not start with the tag: %q", b)
			}
			got, err := decodeRecord(string(b[len(recordV2Tag):]))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.r) {
				t.Errorf("round trip:\n got %+v\nwant %+v", *got, tc.r)
			}
		})
	}
}

func TestRecordCodecRefusesCorrupt(t *testing.T) {
	good := encodeRecord(nil, &Record{Status: 202, Fingerprint: "f", Header: map[string][]string{"A": {"b"}}, CreatedAt: time.Now()})
	body := string(good[len(recordV2Tag):])
	cases := map[string]string{
		"empty":                             "",
		"truncated varint":                  "\xff",
		"fingerprint longer than the value": "\xca\x01\x00\x7f",
		"status out of range":               "\xe8\x07\x00\x00\x00",
		"header count beyond the value":     body[:len(body)-5] + "\x7f",
	}
	for name, in := range cases {
		if r, err := decodeRecord(in); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, r)
		}
	}
}

// FuzzRecordCodec: any stored value decodes to a record or an error, never
// a panic; what decodes encodes back to the same bytes.
func FuzzRecordCodec(f *testing.F) {
	f.Add(string(encodeRecord(nil, &Record{Status: 202, Fingerprint: "fp", Header: map[string][]string{"Content-Type": {"application/json"}},
		Body: []byte(`{"a":1}`), CreatedAt: time.Unix(1, 2)}))[len(recordV2Tag):])
	f.Add("")
	f.Add("\x80\x80\x80")
	f.Fuzz(func(t *testing.T, in string) {
		r, err := decodeRecord(in)
		if err != nil {
			return
		}
		again, err := decodeRecord(string(encodeRecord(nil, r))[len(recordV2Tag):])
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("re-encoding %+v: %+v, %v", r, again, err)
		}
	})
}

func BenchmarkRecordDecode(b *testing.B) {
	r := &Record{Status: 202, Fingerprint: strings.Repeat("ab", 32), CreatedAt: time.Now(),
		Header: map[string][]string{"Content-Type": {"application/json"}, "Location": {"/v1/jobs/0b6b1c1e-8d3c-4c38-9d2e-5c0f3c0e3f6a"},
			"Preference-Applied": {"respond-async"}},
		Body: []byte(`{"id":"0b6b1c1e-8d3c-4c38-9d2e-5c0f3c0e3f6a","status":"Accepted","statusUrl":"http://127.0.0.1:8080/v1/jobs/0b6b1c1e-8d3c-4c38-9d2e-5c0f3c0e3f6a","resultUrl":"http://127.0.0.1:8080/v1/jobs/0b6b1c1e-8d3c-4c38-9d2e-5c0f3c0e3f6a/result","total":1}`)}
	bin := string(encodeRecord(nil, r))[len(recordV2Tag):]
	js, _ := json.Marshal(r)
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeRecord(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var x Record
			if err := json.Unmarshal(js, &x); err != nil {
				b.Fatal(err)
			}
		}
	})
}
