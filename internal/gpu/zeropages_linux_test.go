//go:build cgo && linux

package gpu

import (
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// residentPages lists the pages of mem that are in memory.
func residentPages(t *testing.T, mem []byte) []int {
	t.Helper()
	page := os.Getpagesize()
	vec := make([]byte, len(mem)/page)
	if err := mincore(mem, vec); err != nil {
		t.Fatal(err)
	}
	var out []int
	for i, v := range vec {
		if v&1 == 1 {
			out = append(out, i)
		}
	}
	return out
}

func TestDropZeroPages(t *testing.T) {
	page := os.Getpagesize()
	tests := []struct {
		name     string
		pages    int
		touched  []int // pages written with a zero byte (resident, still zero)
		nonzero  []int // pages holding data
		released int   // pages
		resident []int // after the drop
	}{
		{name: "all zero", pages: 16, touched: seq(16), released: 16},
		{name: "data pages stay", pages: 16, touched: seq(16), nonzero: []int{0, 7, 8, 15}, released: 12, resident: []int{0, 7, 8, 15}},
		{name: "untouched pages are not counted", pages: 16, touched: []int{2, 3}, nonzero: []int{9}, released: 2, resident: []int{9}},
		{name: "nothing resident", pages: 4, released: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem, err := unix.Mmap(-1, 0, tt.pages*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Munmap(mem)
			for _, p := range tt.touched {
				mem[p*page] = 0
			}
			for _, p := range tt.nonzero {
				mem[p*page+page-1] = byte(p + 1)
			}
			got, err := dropZeroPages(mem)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.released*page {
				t.Errorf("released %d bytes, want %d pages (%d bytes)", got, tt.released, tt.released*page)
			}
			if res := residentPages(t, mem); !slices.Equal(res, tt.resident) {
				t.Errorf("resident pages after the drop: %v, want %v", res, tt.resident)
			}
			for _, p := range tt.nonzero {
				if mem[p*page+page-1] != byte(p+1) {
					t.Errorf("page %d lost its data", p)
				}
			}
			// A released page is usable again and reads as zero.
			for i := range mem {
				if mem[i] != 0 && !slices.Contains(tt.nonzero, i/page) {
					t.Fatalf("byte %d (page %d) is %d after the drop, want 0", i, i/page, mem[i])
				}
			}
			mem[0] = 42
			if mem[0] != 42 {
				t.Error("a released page does not keep a new write")
			}
		})
	}
}

func TestDropZeroPagesRejectsPartialPages(t *testing.T) {
	if _, err := dropZeroPages(make([]byte, os.Getpagesize()+1)); err == nil {
		t.Error("want an error for memory that is not whole pages")
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
