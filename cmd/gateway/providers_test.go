package main

import (
	"strings"
	"testing"

	"github.com/vagate/vagate/mocks/bundle"
)

// Every bundled mock's block opens through its style's driver, as a
// configured provider's does: strictly decoded, so a key the adapter does
// not know stops the start naming it; an unknown style names the known ones.
func TestOpenBundledProviders(t *testing.T) {
	for _, b := range bundle.Mocks {
		tests := []struct {
			name  string
			edit  func(block map[string]any)
			style string
			want  string // in the error; "" opens
		}{
			{"as bundled", func(map[string]any) {}, b.Style, ""},
			{"unknown key", func(block map[string]any) { block["baseURL"] = "http://elsewhere.test" }, b.Style, "baseURL"},
			{"unknown style", func(map[string]any) {}, "nobank", `unknown provider style "nobank" (known: batchva, subaccount, parentprimary, masterfiat`},
		}
		for _, tc := range tests {
			t.Run(b.Style+"/"+tc.name, func(t *testing.T) {
				m, block := b.New(bundle.Settings{})
				t.Cleanup(m.Close)
				cfg, err := block("http://127.0.0.1:9", "http://127.0.0.1:8080/v1/providers/"+b.Style+"/webhooks")
				if err != nil {
					t.Fatal(err)
				}
				tc.edit(cfg)
				pc, err := bundledProvider(b.Style, cfg)
				if err != nil {
					t.Fatal(err)
				}
				pc.Style = tc.style
				p, err := openProvider(pc, "http://127.0.0.1:8080", nil, nil)
				switch {
				case tc.want == "" && err != nil:
					t.Fatalf("open: %v", err)
				case tc.want == "" && (p.Name() != b.Style || p.Capabilities().Style != b.Style):
					t.Errorf("opened %s of style %s", p.Name(), p.Capabilities().Style)
				case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
					t.Errorf("open = %v, want an error naming %s", err, tc.want)
				}
			})
		}
	}
}
