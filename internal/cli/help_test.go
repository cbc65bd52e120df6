package cli

import (
	"slices"
	"strings"
	"testing"
)

// TestHelpPlaceholders guards against backquotes in a flag's usage string
// that do not name its value: flag.PrintDefaults takes the first
// backquoted text as the placeholder, so "for `caravan apply -plan FILE`"
// printed "-out caravan apply -plan FILE". It also checks the usage text
// has no trailing blanks and no empty "Flags:" section.
func TestHelpPlaceholders(t *testing.T) {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			r := execCaravan(t, nil, "", name, "-h")
			if r.code != ExitOK {
				t.Fatalf("%s -h: exit %d, stderr:\n%s", name, r.code, r.stderr)
			}
			if _, after, ok := strings.Cut(r.stderr, "Flags:\n"); ok && !strings.HasPrefix(after, "  -") {
				t.Errorf("%s -h: a \"Flags:\" heading without flags:\n%s", name, r.stderr)
			}
			for _, line := range strings.Split(r.stderr, "\n") {
				if line != strings.TrimRight(line, " \t") {
					t.Errorf("%s -h: trailing white space in %q", name, line)
				}
				if !strings.HasPrefix(line, "  -") {
					continue
				}
				// A short boolean flag shares its line with the usage, after a tab.
				head, _, _ := strings.Cut(line, "\t")
				if f := strings.Fields(head); len(f) > 2 {
					t.Errorf("%s -h: flag %s has the placeholder %q; backquote only the value's name", name, f[0], strings.Join(f[1:], " "))
				}
			}
		})
	}
}
