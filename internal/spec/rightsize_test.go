package spec

import "testing"

func TestSmallestFit(t *testing.T) {
	g1 := &Pool{Name: "g1", GPUsPerNode: 1, CPUPerNode: 12000, MemoryPerNode: 85 << 30, PricePerHour: 3.7}
	g4 := &Pool{Name: "g4", GPUsPerNode: 4, CPUPerNode: 48000, MemoryPerNode: 340 << 30, PricePerHour: 14.7}
	g4cheap := &Pool{Name: "g4-spot", GPUsPerNode: 4, PricePerHour: 5}
	g8 := &Pool{Name: "g8", GPUsPerNode: 8, PricePerHour: 29.4}
	unsized := &Pool{Name: "any"}
	tests := []struct {
		name  string
		cands []*Pool
		need  Resources
		want  string // "" for none
	}{
		{"one GPU goes to the 1-GPU machines", []*Pool{g8, g4, g1}, Resources{GPUs: 1}, "g1"},
		{"two GPUs skip the 1-GPU machines", []*Pool{g8, g4, g1}, Resources{GPUs: 2}, "g4"},
		{"eight GPUs need the big ones", []*Pool{g1, g4, g8}, Resources{GPUs: 8}, "g8"},
		{"too many GPUs fit nowhere", []*Pool{g1, g4, g8}, Resources{GPUs: 16}, ""},
		{"memory rules out the small node", []*Pool{g1, g4, g8}, Resources{GPUs: 1, Memory: 100 << 30}, "g4"},
		{"CPU rules out the small node", []*Pool{g1, g4, g8}, Resources{GPUs: 1, CPU: 20000}, "g4"},
		{"same size: cheaper per GPU wins", []*Pool{g4, g4cheap}, Resources{GPUs: 3}, "g4-spot"},
		{"a pool without sizes fits but comes last", []*Pool{unsized, g8}, Resources{GPUs: 2}, "g8"},
		{"only the unsized pool fits", []*Pool{unsized, g8}, Resources{GPUs: 16}, "any"},
		{"no candidates", nil, Resources{GPUs: 1}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SmallestFit(tc.cands, tc.need)
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tc.want {
				t.Errorf("SmallestFit = %q, want %q", name, tc.want)
			}
		})
	}
}
