package agent

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
)

func TestOOMKillCgroup(t *testing.T) {
	tests := []struct {
		rec, want string
		ok        bool
	}{
		// The rig's kernel (cgroup v1), as /dev/kmsg gives it.
		{"6,536,2467586379,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=share,mems_allowed=0,oom_memcg=/nomad/b21e1da6-22fb-af5d-d99f-7f0e4ef169bb.t,task_memcg=/nomad/b21e1da6-22fb-af5d-d99f-7f0e4ef169bb.t,task=tail,pid=10771,uid=0\n",
			"/nomad/b21e1da6-22fb-af5d-d99f-7f0e4ef169bb.t", true},
		// A node out of memory: no oom_memcg, the victim's cgroup v2 scope.
		{"6,1,2,-;oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/nomad.slice/share.slice/b21e1da6-22fb-af5d-d99f-7f0e4ef169bb.train.scope,task=python,pid=1,uid=0\n SUBSYSTEM=x\n",
			"/nomad.slice/share.slice/b21e1da6-22fb-af5d-d99f-7f0e4ef169bb.train.scope", true},
		{"3,537,2467586395,-;Memory cgroup out of memory: Killed process 10771 (tail) total-vm:104216kB\n", "", false},
		{"4,425,2467584622,-;tail invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n", "", false},
		{"garbage", "", false},
	}
	for _, tt := range tests {
		got, ok := oomKillCgroup(kmsgMessage(tt.rec))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%q: %q, %v; want %q, %v", tt.rec, got, ok, tt.want, tt.ok)
		}
	}
}

// fakeOOMLog hands out the kills it is given, once.
type fakeOOMLog struct {
	mu    sync.Mutex
	kills []string
}

func (f *fakeOOMLog) OOMKills() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.kills
	f.kills = nil
	return k
}

// TestKernelLogCountsAKillThatEndedTheRun: the kill that ends a run's last
// process takes its cgroup with it before the next sample; the kernel log
// still names it, and the final usage counts it.
func TestKernelLogCountsAKillThatEndedTheRun(t *testing.T) {
	n := newRawExecNode(t)
	klog := &fakeOOMLog{}
	n.agent.cfg.KernelLog = klog
	s := NewSampler(n.agent, n.nomad, 5*time.Second, time.Hour)
	s.Sample(context.Background())
	klog.kills = []string{"/nomad/" + allocA + ".train", "/nomad/0000dead-0000-4000-8000-000000000000.x", "/user.slice/" + allocA}
	n.nomad.setStatus(allocA, "failed")
	n.clock.Advance(5 * time.Second)
	s.Sample(context.Background())
	u := n.nomad.usage[len(n.nomad.usage)-1]
	if !u.Final || u.OOMKills != 1 || u.Sources[record.FigureOOMKills] != record.SourceKmsg {
		t.Errorf("final usage: final %v, %d OOM kills from %q; want 1 from the kernel log", u.Final, u.OOMKills, u.Sources[record.FigureOOMKills])
	}
}
