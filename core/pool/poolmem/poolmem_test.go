package poolmem_test

import (
	"testing"

	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/core/pool/poolmem"
	"github.com/vagate/vagate/core/pool/pooltest"
)

func TestConformance(t *testing.T) {
	pooltest.Run(t, func(*testing.T) pool.Store { return poolmem.New(nil) })
}
