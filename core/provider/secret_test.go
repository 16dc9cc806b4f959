package provider_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/vagate/vagate/core/provider"
)

func TestSecretNeverShows(t *testing.T) {
	type cfg struct {
		Key provider.Secret `json:"key"`
	}
	c := cfg{Key: "hunter2"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "key", c.Key, "cfg", c)
	j, _ := json.Marshal(c)
	for _, out := range []string{fmt.Sprint(c.Key), fmt.Sprintf("%v %+v %#v", c, c, c), string(j), logs.String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret shows in %q", out)
		}
	}
	var back cfg
	if err := json.Unmarshal([]byte(`{"key":"s3cr3t"}`), &back); err != nil || string(back.Key) != "s3cr3t" {
		t.Errorf("reading a secret: %q %v", back.Key, err)
	}
}
