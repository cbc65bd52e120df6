//go:build !linux

package agent

import "errors"

// Kmsg reads the kernel log for OOM kills; only Linux has one.
type Kmsg struct{}

// OpenKmsg fails: only Linux has /dev/kmsg.
func OpenKmsg(string) (*Kmsg, error) { return nil, errors.New("no kernel log to read on this system") }

// OOMKills returns nothing.
func (*Kmsg) OOMKills() []string { return nil }

// Close does nothing.
func (*Kmsg) Close() error { return nil }
