package seedcheck_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/vagate/vagate/mocks/seedcheck"
)

func TestCompare(t *testing.T) {
	const example = `{"data":{"id":"abc","state":"ACTIVE","n":2,"list":[{"k":"v"}],"opt":null}}`
	tests := []struct {
		name string
		got  string
		gen  seedcheck.Generated
		want []string
	}{
		{"equal", example, nil, nil},
		{"extra members are not differences", `{"data":{"id":"abc","state":"ACTIVE","n":2,"list":[{"k":"v","x":1}],"opt":null,"more":true}}`, nil, nil},
		{"other value", `{"data":{"id":"abc","state":"PENDING","n":2,"list":[{"k":"v"}],"opt":null}}`, nil, []string{"data.state"}},
		{"other type", `{"data":{"id":"abc","state":"ACTIVE","n":"2","list":[{"k":"v"}],"opt":null}}`, nil, []string{"data.n: string"}},
		{"missing", `{"data":{"id":"abc","state":"ACTIVE","n":2,"list":[{"k":"v"}]}}`, nil, []string{"data.opt: missing"}},
		{"array length", `{"data":{"id":"abc","state":"ACTIVE","n":2,"list":[],"opt":null}}`, nil, []string{"data.list: 0 elements"}},
		{"generated in format", `{"data":{"id":"xyz","state":"ACTIVE","n":2,"list":[{"k":"v"}],"opt":null}}`, seedcheck.Generated{"data.id": "^[a-z]{3}$"}, nil},
		{"generated out of format", `{"data":{"id":"xy1","state":"ACTIVE","n":2,"list":[{"k":"v"}],"opt":null}}`, seedcheck.Generated{"data.id": "^[a-z]{3}$"}, []string{"data.id: \"xy1\" does not match"}},
		{"generated path not in the example", example, seedcheck.Generated{"data.nope": ""}, []string{"data.nope: listed as generated"}},
		{"nested array element", `{"data":{"id":"abc","state":"ACTIVE","n":2,"list":[{"k":"w"}],"opt":null}}`, nil, []string{"data.list.0.k"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := seedcheck.Compare([]byte(example), []byte(tc.got), tc.gen)
			if len(got) != len(tc.want) {
				t.Fatalf("differences = %q, want %d like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("difference %d = %q, want it to start %q", i, got[i], w)
				}
			}
		})
	}
}

func TestExtra(t *testing.T) {
	got := seedcheck.Extra([]byte(`{"a":1,"o":{"b":2},"l":[{"c":3}]}`), []byte(`{"a":1,"z":0,"o":{"b":2,"y":1},"l":[{"c":3,"x":2}]}`))
	if want := []string{"l.0.x", "o.y", "z"}; !slices.Equal(got, want) {
		t.Errorf("extra = %q, want %q", got, want)
	}
}

func TestWith(t *testing.T) {
	got, err := seedcheck.With([]byte(`{"data":{"ref":"a","list":[{"k":1}]}}`), map[string]any{"data.ref": "b", "data.list.0.k": 2})
	if err != nil || string(got) != `{"data":{"list":[{"k":2}],"ref":"b"}}` {
		t.Errorf("With = %s, %v", got, err)
	}
	if _, err := seedcheck.With([]byte(`{"a":1}`), map[string]any{"b": 1}); err == nil {
		t.Errorf("setting a member the example lacks: no error")
	}
}
