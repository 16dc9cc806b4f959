package reconcileredis_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/reconcile"
	"github.com/vagate/vagate/core/reconcile/reconcileredis"
	"github.com/vagate/vagate/core/reconcile/reconciletest"
	"github.com/vagate/vagate/core/store/redistest"
)

// The contract suite on a single node, a Cluster and Sentinel, each store
// under a fresh prefix whose keys are deleted afterwards.
func TestContract(t *testing.T) {
	redistest.Run(t, func(t *testing.T, c redis.UniversalClient) {
		reconciletest.RunStore(t, func(t *testing.T) reconcile.Store {
			return reconcileredis.New(c, &reconcileredis.Options{Prefix: redistest.Prefix(t, c, "vagate-rt")})
		})
	})
}
