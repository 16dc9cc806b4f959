package webhooksmem_test

import (
	"testing"

	"github.com/vagate/vagate/core/webhooks"
	"github.com/vagate/vagate/core/webhooks/webhooksmem"
	"github.com/vagate/vagate/core/webhooks/webhookstest"
)

func TestMemory(t *testing.T) {
	webhookstest.Run(t, func(*testing.T) webhooks.Store { return webhooksmem.New(nil) })
}
