package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		out, inErr string
	}{
		{[]string{"-h"}, 0, "", "-gpu-timeout"},
		{[]string{"-version"}, 0, "caravan-agent dev", ""},
		// The jobspec of the full binary passed the subcommand: say so.
		{[]string{"agent", "-listen", "127.0.0.1:0"}, 2, "", `unexpected argument "agent"`},
		{[]string{"-no-such-flag"}, 2, "", "flag provided but not defined"},
		{[]string{"-listen", "9464"}, 1, "", "Error: -listen \"9464\" is not HOST:PORT"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tt.args, &stdout, &stderr, func(string) string { return "" })
		if code != tt.code || !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.inErr) {
			t.Errorf("%v: exit %d, want %d; stdout %q (want %q); stderr %q (want %q)",
				tt.args, code, tt.code, stdout.String(), tt.out, stderr.String(), tt.inErr)
		}
	}
}
