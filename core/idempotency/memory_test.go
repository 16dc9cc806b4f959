package idempotency_test

import (
	"testing"

	"github.com/vagate/vagate/core/idempotency"
	"github.com/vagate/vagate/core/idempotency/idempotencytest"
)

func TestMemoryConformance(t *testing.T) {
	idempotencytest.RunConformanceTests(t, func(t *testing.T) idempotency.Store {
		return idempotency.NewMemory(idempotencytest.Options(t))
	})
}
