package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

func init() {
	register(command{
		name:     "fmt",
		synopsis: "Rewrite experiment files in canonical format",
		run:      runFmt,
		// `fmt -` prints the formatted source byte for byte; the file
		// names it lists are made visible where they are printed.
		rawStdout: true,
	})
}

// runFmt follows terraform fmt: with no flags it rewrites files in place
// and lists those it changed; -check changes nothing, lists the files that
// are not canonical and exits 3 if there are any; -diff also prints what
// changes. "-" formats stdin to stdout (with -check or -diff it only
// reports, as for files). A file with syntax errors is left
// alone and reported; the exit code is then 1.
func runFmt(_ context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "fmt", "[DIR|FILE|-]...")
	check := fs.Bool("check", false, "change nothing; list files that are not formatted and exit 3 if any")
	diff := fs.Bool("diff", false, "print the changes as a unified diff")
	recursive := fs.Bool("recursive", false, "also format *.hcl files in subdirectories")
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		pos = []string{"."}
	}

	var diags hcl.Diagnostics
	files := map[string]*hcl.File{}
	unformatted, failed := false, false
	for _, target := range pos {
		if target == "-" {
			src, err := io.ReadAll(io.LimitReader(env.Stdin, spec.MaxFileBytes+1))
			if err != nil {
				errorf(env, "reading stdin: %v", err)
				return ExitError
			}
			out, d := formatSource("<stdin>", src, files)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			// As for files, -check and -diff report instead of
			// printing the result, so `fmt -check -` can gate a pipe.
			if !bytes.Equal(src, out) {
				unformatted = true
				if *diff {
					writeUnifiedDiff(env.Stdout, "<stdin>", src, out)
				}
			}
			if !*check && !*diff {
				env.Stdout.Write(out)
			}
			continue
		}
		paths, err := fmtTargets(target, *recursive)
		if err != nil {
			// Keep going: the other targets' results and diagnostics
			// are still worth reporting in this run.
			errorf(env, "%v", err)
			failed = true
			continue
		}
		for _, path := range paths {
			changed, d, err := fmtFile(env, path, files, *check, *diff)
			if err != nil {
				errorf(env, "%v", err)
				failed = true
				continue
			}
			diags = append(diags, d...)
			if changed {
				unformatted = true
				fmt.Fprintln(env.Stdout, visible(path))
			}
		}
	}
	writeDiags(env, files, diags, false)
	switch {
	case failed || diags.HasErrors():
		return ExitError
	case *check && unformatted:
		return ExitFmt
	}
	return ExitOK
}

// fmtTargets lists the files a FILE or DIR argument stands for: a file as
// named (whatever its extension), a directory's *.hcl files, sorted.
func fmtTargets(target string, recursive bool) ([]string, error) {
	info, err := os.Stat(target)
	if err != nil {
		return nil, fmt.Errorf("cannot format %s: %w; pass an existing file or directory", target, err)
	}
	if !info.IsDir() {
		return []string{target}, nil
	}
	var paths []string
	err = filepath.WalkDir(target, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != target && (!recursive || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".hcl") && !strings.HasPrefix(d.Name(), ".") && d.Type().IsRegular() {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", target, err)
	}
	sort.Strings(paths)
	return paths, nil
}

// formatSource checks the syntax (formatting broken HCL would make it
// worse) and returns the canonical form. The source first passes the
// limits validate applies (size, plain text, nesting): the parser and the
// formatter recurse once per nesting level, and a Go stack overflow is
// fatal.
func formatSource(name string, src []byte, files map[string]*hcl.File) ([]byte, hcl.Diagnostics) {
	if diags := spec.CheckSource(src, name); diags.HasErrors() {
		return nil, diags
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if f != nil {
		files[name] = f
	}
	if diags.HasErrors() {
		return nil, diags
	}
	out := hclwrite.Format(src)
	if _, again := hclsyntax.ParseConfig(out, name, hcl.InitialPos); again.HasErrors() {
		return nil, append(diags, unformattable(name, again[0]))
	}
	return out, diags
}

// unformattable reports source that parses but whose canonical form would
// not: hclwrite drops the space in a traversal after a number literal
// ("0.0. 0" becomes the invalid number "0.0.0"). The file is left as it is;
// hclwrite lays tokens out within their lines, so the line of the new
// error is the line to rewrite.
func unformattable(name string, d *hcl.Diagnostic) *hcl.Diagnostic {
	line := hcl.InitialPos
	if d.Subject != nil {
		line = hcl.Pos{Line: d.Subject.Start.Line, Column: 1, Byte: d.Subject.Start.Byte - d.Subject.Start.Column + 1}
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Cannot format this expression",
		Detail: fmt.Sprintf("Its canonical form would not parse (%s), so fmt left the file unchanged. "+
			"Write the expression on this line without spaces around \".\" or \"[\" (for a number, index it with brackets: x[0]).", d.Summary),
		Subject: &hcl.Range{Filename: name, Start: line, End: line},
	}
}

// fmtFile formats one file. It reads the file as validate does
// (spec.ReadFile: a regular file, no symlink out of its directory, size
// capped) and writes it back through the same directory, so that a
// committed symlink can make fmt neither read nor rewrite a file elsewhere.
func fmtFile(env Env, path string, files map[string]*hcl.File, check, diff bool) (changed bool, diags hcl.Diagnostics, err error) {
	src, diags := spec.ReadFile(path)
	if diags.HasErrors() {
		return false, diags, nil
	}
	out, diags := formatSource(path, src, files)
	if diags.HasErrors() || bytes.Equal(src, out) {
		return false, diags, nil
	}
	if diff {
		writeUnifiedDiff(env.Stdout, path, src, out)
	}
	if !check {
		if err := rewriteFile(path, out); err != nil {
			return false, diags, fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return true, diags, nil
}

// rewriteFile replaces the contents of the existing file at path, opened
// inside its own directory (symlinks may not lead out of it), keeping its
// mode.
func rewriteFile(path string, data []byte) error {
	root, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer root.Close()
	f, err := root.OpenFile(filepath.Base(path), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
