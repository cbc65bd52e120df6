package agent

import "strings"

// oomKillCgroup reads the cgroup of the victim from a kernel log message
// of the OOM killer:
//
//	oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=share,mems_allowed=0,oom_memcg=/nomad/<alloc>.t,task_memcg=/nomad/<alloc>.t,task=tail,pid=10771,uid=0
//
// task_memcg is the killed process's cgroup (kernels since 4.19 write it;
// oom_memcg is absent when the whole node ran out). ok is false for any
// other message.
func oomKillCgroup(msg string) (string, bool) {
	rest, found := strings.CutPrefix(msg, "oom-kill:")
	if !found {
		return "", false
	}
	for kv := range strings.SplitSeq(rest, ",") {
		if v, ok := strings.CutPrefix(kv, "task_memcg="); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

// kmsgMessage is the text of a /dev/kmsg record, "PRI,SEQ,TS,FLAGS;TEXT\n"
// followed by continuation lines that start with a space.
func kmsgMessage(rec string) string {
	_, text, ok := strings.Cut(rec, ";")
	if !ok {
		return ""
	}
	text, _, _ = strings.Cut(text, "\n")
	return text
}
