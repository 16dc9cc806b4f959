package telemetry

import (
	"slices"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Sets memoises metric attribute sets by a comparable key standing for
// their values. Instruments see few distinct sets (routes × methods ×
// statuses, operations × outcomes), and building one per measurement
// sorts, hashes and allocates; a lookup here does none of that.
type Sets[K comparable] struct {
	mu sync.RWMutex
	m  map[K]metric.MeasurementOption
}

// Get is the measurement option for key, built from kvs the first time
// key is seen; kvs must be the same for the same key.
func (s *Sets[K]) Get(key K, kvs ...attribute.KeyValue) metric.MeasurementOption {
	s.mu.RLock()
	o, ok := s.m[key]
	s.mu.RUnlock()
	if ok {
		return o
	}
	o = metric.WithAttributeSet(attribute.NewSet(slices.Clone(kvs)...))
	s.mu.Lock()
	if s.m == nil {
		s.m = map[K]metric.MeasurementOption{}
	}
	s.m[key] = o
	s.mu.Unlock()
	return o
}
