package client_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// The client is regenerated from the current document; a stale one fails.
func TestGeneratedClientIsCurrent(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tmpCfg := filepath.Join(dir, "oapi-codegen.yaml")
	if err := os.WriteFile(tmpCfg, regexp.MustCompile(`(?m)^output:.*$`).ReplaceAll(cfg, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "client.gen.go")
	cmd := exec.CommandContext(t.Context(), goBin, "tool", "oapi-codegen", "-config", tmpCfg, "-o", out, "../openapi.yaml")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, msg)
	}
	want, _ := os.ReadFile(out)
	have, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatal("client.gen.go is stale: run go generate ./openapi/client/")
	}
}
