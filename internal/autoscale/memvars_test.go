package autoscale

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
)

// memNomad's Variables, with check-and-set as Nomad does it.

func (m *memNomad) Variable(ctx context.Context, _, path string) (*api.Variable, error) {
	if err := m.call(ctx, "get "+path); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.vars[path]
	if !ok {
		return nil, fmt.Errorf("variable %s: %w", path, nomad.ErrNotFound)
	}
	c := *v
	c.Items = maps.Clone(v.Items)
	return &c, nil
}

func (m *memNomad) PutVariable(ctx context.Context, _, path string, items map[string]string, cas int64) (*api.Variable, error) {
	if err := m.call(ctx, "put "+path); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.vars[path]
	if cas >= 0 {
		var at uint64
		if ok {
			at = cur.ModifyIndex
		}
		if uint64(cas) != at {
			return nil, fmt.Errorf("write variable %q: %w", path, nomad.ErrConflict)
		}
	}
	m.index++
	v := &api.Variable{Path: path, Items: maps.Clone(items), ModifyIndex: m.index}
	if ok {
		v.CreateIndex = cur.CreateIndex
	} else {
		v.CreateIndex = m.index
	}
	m.vars[path] = v
	m.writes[path]++
	if m.onPut != nil {
		m.onPut(path, items)
	}
	c := *v
	return &c, nil
}

func (m *memNomad) DeleteVariable(ctx context.Context, _, path string, cas int64) error {
	if err := m.call(ctx, "delete "+path); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.vars[path]
	if !ok {
		return fmt.Errorf("variable %s: %w", path, nomad.ErrNotFound)
	}
	if cas >= 0 && uint64(cas) != cur.ModifyIndex {
		return fmt.Errorf("delete variable %q: %w", path, nomad.ErrConflict)
	}
	delete(m.vars, path)
	return nil
}

func (m *memNomad) Variables(ctx context.Context, _, prefix string) ([]*api.VariableMetadata, error) {
	if err := m.call(ctx, "list "+prefix); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*api.VariableMetadata
	for p, v := range m.vars {
		if strings.HasPrefix(p, prefix) {
			out = append(out, &api.VariableMetadata{Path: p, ModifyIndex: v.ModifyIndex})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
