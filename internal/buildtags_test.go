package internal

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoAgentOnlyTag keeps the agentonly build tag gone: the node agent is
// its own binary, cmd/caravan-agent, and which binary links what is in the
// import graph that TestImportsFollowTheDesign checks, not in build tags.
func TestNoAgentOnlyTag(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		files++
		for _, line := range constraintLines(t, path) {
			if strings.Contains(line, "agentonly") {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s: %q: the agentonly tag is gone (the agent is cmd/caravan-agent); remove the constraint", filepath.ToSlash(rel), line)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("found %d Go files: the walk did not start at the module root", files)
	}
}

// constraintLines are the build constraint lines (//go:build and the old
// // +build) in the header of the Go file at path, before its package
// clause, where the go command reads them.
func constraintLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "package ") {
			break
		}
		if strings.HasPrefix(line, "//go:build") || strings.HasPrefix(line, "// +build") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}
