package cli

import (
	"path/filepath"
	"testing"
)

// TestRunFileConfigFlags: `caravan run FILE` checks -var and -max-runs as
// the directory commands do, before it talks to Nomad (none is running).
func TestRunFileConfigFlags(t *testing.T) {
	file := filepath.Join(writeConfigDir(t, map[string]string{"train.hcl": trainHCL("train", "0.1")}), "train.hcl")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "var without value", args: []string{"-var", "lr"}, want: "Invalid -var option"},
		{name: "zero max-runs", args: []string{"-max-runs", "0"}, want: "Invalid -max-runs option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := execCaravan(t, []string{"NOMAD_ADDR=http://127.0.0.1:1"}, "", append([]string{"run", file}, tt.args...)...)
			mustCode(t, r, ExitError)
			mustContain(t, r.stderr, tt.want)
		})
	}
}
