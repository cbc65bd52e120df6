package agent

import (
	"strings"
	"testing"
)

func TestReadProcAttribution(t *testing.T) {
	tests := []struct {
		pid       uint32
		wantAlloc string
		wantComm  string
	}{
		{1000, allocA, "python"},   // cgroups v2 scope name
		{1001, allocA, "torchrun"}, // docker cgroup: NOMAD_ALLOC_ID in environ
		{1002, allocB, "python"},   // cgroups v1 /nomad/<alloc>-<task>
		{1003, "", "jupyter-lab"},  // outside Nomad, though a UUID is in its environment
		{4242, "", ""},             // gone
	}
	for _, tt := range tests {
		got := readProc("testdata/proc", tt.pid)
		if got.AllocID != tt.wantAlloc || got.Comm != tt.wantComm {
			t.Errorf("pid %d: got %+v, want alloc %q comm %q", tt.pid, got, tt.wantAlloc, tt.wantComm)
		}
	}
}

func TestAllocFromCgroup(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"v2", "0::/nomad.slice/reserve.slice/" + allocB + ".train.scope\n", allocB},
		{"v1", "4:pids:/nomad/" + allocA + "-eval\n", allocA},
		{"not nomad", "0::/system.slice/" + allocA + ".service\n", ""},
		{"empty", "", ""},
		{"garbage", "::::\n\x00", ""},
	}
	for _, tt := range tests {
		if got := allocFromCgroup([]byte(tt.in)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func FuzzAllocFromCgroup(f *testing.F) {
	f.Add([]byte("0::/nomad.slice/share.slice/" + allocA + ".train.scope\n"))
	f.Add([]byte("NOMAD_ALLOC_ID=" + allocA + "\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, id := range []string{allocFromCgroup(b), allocFromEnviron(b)} {
			if id != "" && !allocIDPattern.MatchString(id) {
				t.Fatalf("returned %q, not an allocation ID", id)
			}
		}
	})
}

func TestParseNetDev(t *testing.T) {
	devs, err := readNetDev("testdata/proc")
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0] != (netDev{Name: "eth0", RxByte: 52428800, TxByte: 10485760}) {
		t.Errorf("got %+v; want eth0 only (lo excluded)", devs)
	}
	if got := parseNetDev(strings.NewReader("bad\n x: 1 2\n")); len(got) != 0 {
		t.Errorf("malformed lines must be skipped, got %+v", got)
	}
}
