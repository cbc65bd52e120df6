package spec

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/caravan-ml/caravan/internal/record"
)

// The caravan block holds settings of the configuration directory as a
// whole, as Terraform's terraform block does:
//
//	caravan {
//	  project = "vision"
//	}
//
// project names who owns the directory's runs. plan and apply compare the
// directory with its project's runs only, and -prune stops only them, so
// that teams sharing a cluster and a namespace never touch each other's
// runs. It is declared rather than derived (from the repository's remote
// URL, say) because a derived name changes with forks, mirrors and the
// way CI checks a repository out, and a changed project would orphan every
// run of the old one.
var caravanSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "project", Required: true}},
}

// decodeCaravan reads the caravan block: at most one in the directory.
func (l *loader) decodeCaravan(blocks []*hcl.Block) {
	for i, b := range blocks {
		if i > 0 {
			l.add(diagErr(b.DefRange, "Duplicate caravan block",
				"A configuration directory has at most one caravan block; the first is at %s. Merge them.", posString(blocks[0].DefRange)))
			continue
		}
		content, diags := b.Body.Content(caravanSchema)
		l.add(diags...)
		a := content.Attributes["project"]
		if a == nil {
			continue
		}
		v, ok := l.attrString(a)
		if !ok {
			continue
		}
		if !record.ProjectNameRE.MatchString(v) {
			l.add(diagErr(a.Expr.Range(), "Invalid project name",
				"%q is not a valid project name: use 1-63 lower-case letters, digits, '-' and '_', starting with a letter or digit, e.g. \"vision-team\".", v))
			continue
		}
		l.cfg.Project = v
		l.cfg.ProjectRange = a.Expr.Range()
	}
}

// ProjectOf reads the project a configuration directory declares, looking
// at its caravan block only: commands that list runs (ls, status, cost)
// use it as the current project when run inside a configuration
// directory, without loading and expanding every experiment. It returns ""
// when dir declares none or its declaration cannot be read without the
// rest of the configuration (a project computed from variables).
func ProjectOf(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".hcl") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name := filepath.Join(dir, e.Name())
		if st, err := os.Stat(name); err != nil || st.Size() > maxFileBytes {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil || checkTokens(src, name).HasErrors() {
			continue
		}
		f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		if diags.HasErrors() {
			continue
		}
		content, _, _ := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "caravan"}}})
		for _, b := range content.Blocks {
			attrs, _ := b.Body.JustAttributes()
			if a := attrs["project"]; a != nil {
				v, diags := a.Expr.Value(nil)
				if !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type() == cty.String && record.ProjectNameRE.MatchString(v.AsString()) {
					return v.AsString()
				}
			}
		}
	}
	return ""
}

// MissingProject is the diagnostic for a configuration that declares no
// project, nil when it declares one: validate warns, and plan and apply
// refuse (sev), since without a project they cannot tell the directory's
// runs from everyone else's.
func MissingProject(cfg *Config, sev hcl.DiagnosticSeverity) *hcl.Diagnostic {
	if cfg.Project != "" {
		return nil
	}
	rng := fileRange(cfg.Dir)
	if len(cfg.Experiments) > 0 {
		rng = cfg.Experiments[0].DeclRange
	}
	d := diagErr(rng, "No project declared",
		"plan and apply compare a directory with the runs of its own project, and apply -prune stops only those, "+
			"so that teams sharing a cluster never touch each other's runs. Declare the project once, in any file of the directory:\n\n"+
			"  caravan {\n    project = \"my-team\"\n  }\n\n"+
			"Runs submitted before the directory had a project belong to no project; docs/setup.md (Projects) says how to adopt them.")
	d.Severity = sev
	return d
}

// SetProject gives a configuration that declares no project the project
// named on the command line (caravan run -project), as if declared.
func (c *Config) SetProject(project string) {
	c.Project = project
	for _, e := range c.Experiments {
		e.Project = project
	}
}
