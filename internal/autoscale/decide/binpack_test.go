package decide

import "testing"

func TestPackerFirstFitDecreasing(t *testing.T) {
	node := Resources{GPUs: 8, CPU: 100, Memory: 100}
	tests := []struct {
		name   string
		fixed  []Resources
		reqs   []Resources
		maxNew int
		want   int // new bins
		failed int
	}{
		{"empty", nil, nil, 10, 0, 0},
		{"fills existing room first", []Resources{{GPUs: 4, CPU: 50, Memory: 50}}, []Resources{{GPUs: 4}}, 10, 0, 0},
		{"cpu is a dimension", []Resources{{GPUs: 8, CPU: 10, Memory: 100}}, []Resources{{GPUs: 1, CPU: 20}}, 10, 1, 0},
		{"memory is a dimension", nil, []Resources{{GPUs: 1, Memory: 60}, {GPUs: 1, Memory: 60}}, 10, 2, 0},
		{"limit", nil, []Resources{{GPUs: 8}, {GPUs: 8}, {GPUs: 8}}, 2, 2, 1},
		{"too big for a new node", nil, []Resources{{GPUs: 9}}, 10, 0, 1},
		{"cpu-only request still packs after GPU bins fill", nil, []Resources{{GPUs: 8, CPU: 10}, {GPUs: 0, CPU: 10}}, 10, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bins := make([]bin, len(tc.fixed))
			for i, f := range tc.fixed {
				bins[i].free = f
			}
			p := newPacker(bins, node, tc.maxNew)
			failed := 0
			for _, r := range tc.reqs {
				if p.place(r, Resources{}) < 0 {
					failed++
				}
			}
			if p.created() != tc.want || failed != tc.failed {
				t.Errorf("created %d failed %d, want %d and %d", p.created(), failed, tc.want, tc.failed)
			}
		})
	}
}
