package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vagate/vagate/core/bank"
)

// Events is the tenant's append-only event log.
type Events interface {
	// AppendEvent adds e at the end of its tenant's log.
	AppendEvent(ctx context.Context, e *bank.Event) error
	// ListEvents returns up to limit events after cursor, oldest first, of
	// type t ("" = all), and the cursor to resume from (never empty once an
	// event has been returned, so pollers can continue).
	ListEvents(ctx context.Context, tenant string, t bank.EventType, cursor string, limit int) ([]*bank.Event, string, error)
}

// MemoryEvents keeps event logs in one process.
type MemoryEvents struct {
	mu   sync.RWMutex
	logs map[string][]*bank.Event
}

// NewMemoryEvents returns an empty event log.
func NewMemoryEvents() *MemoryEvents { return &MemoryEvents{logs: map[string][]*bank.Event{}} }

var _ Events = (*MemoryEvents)(nil)

// AppendEvent adds e to its tenant's log.
func (m *MemoryEvents) AppendEvent(_ context.Context, e *bank.Event) error {
	c := *e
	m.mu.Lock()
	m.logs[e.Tenant] = append(m.logs[e.Tenant], &c)
	m.mu.Unlock()
	return nil
}

// ListEvents pages through the tenant's log.
func (m *MemoryEvents) ListEvents(_ context.Context, tenant string, t bank.EventType, cursor string, limit int) ([]*bank.Event, string, error) {
	after, err := DecodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	start := 0
	if after != "" {
		seq, _, _ := strings.Cut(after, "|")
		n, err := strconv.Atoi(seq)
		if err != nil || n < 0 {
			return nil, "", NotFoundCursor()
		}
		start = n + 1
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	log := m.logs[tenant]
	var out []*bank.Event
	next := cursor
	for i := start; i < len(log) && len(out) < limit; i++ {
		next = EncodeCursor(fmt.Sprintf("%020d|%s", i, log[i].ID))
		if t != "" && log[i].Type != t {
			continue
		}
		c := *log[i]
		out = append(out, &c)
	}
	return slices.Clip(out), next, nil
}

// NotFoundCursor is the error for a cursor that does not fit the log.
func NotFoundCursor() error {
	return &bank.Error{Code: bank.InvalidArgument, Err: fmt.Errorf("cursor is not valid"),
		Fields: []bank.FieldError{{Pointer: "/query/cursor", Message: "is not a cursor this API returned"}}}
}
