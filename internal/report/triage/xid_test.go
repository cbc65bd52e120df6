package triage

import (
	"slices"
	"testing"
)

// The machine's faults come first, in code order, so that an XID 79 that
// broke every kernel after it is the reason rather than the XID 13s it
// caused.
func TestXIDOrder(t *testing.T) {
	tests := []struct {
		seen []uint64
		want []uint64
	}{
		{[]uint64{13, 79}, []uint64{79, 13}},
		{[]uint64{31, 13, 48, xidNoCode}, []uint64{xidNoCode, 48, 13, 31}},
		{[]uint64{999, 43}, []uint64{999, 43}}, // unknown codes count as the machine's
		{[]uint64{95, 79, 48}, []uint64{48, 79, 95}},
	}
	for _, tc := range tests {
		tally := xidTally{}
		for _, c := range tc.seen {
			tally.add(c, "", "")
		}
		if got := xidOrder(tally); !slices.Equal(got, tc.want) {
			t.Errorf("xidOrder(%v) = %v, want %v", tc.seen, got, tc.want)
		}
	}
}
