package store_test

import (
	"testing"

	"github.com/vagate/vagate/core/jobs/jobsmem"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/store/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.RunConformanceTests(t, func(t *testing.T) storetest.Stores {
		m := store.NewMemory()
		return storetest.Stores{Accounts: m, Jobs: jobsmem.New(), Queue: m, Events: store.NewMemoryEvents()}
	})
}
