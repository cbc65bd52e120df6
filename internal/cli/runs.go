package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
)

// Shared by ls, status, cost, show, logs, stop and rerun: which runs a
// command is about. The listing and the lookups themselves are
// internal/query's.

// projectFlags are ls's, status's and cost's -project and -all-projects.
type projectFlags struct {
	project string
	all     bool
}

func addProjectFlags(fs *flag.FlagSet) *projectFlags {
	p := &projectFlags{}
	fs.StringVar(&p.project, "project", "", "only runs of this project (default: CARAVAN_PROJECT, else the project declared in the current directory)")
	fs.BoolVar(&p.all, "all-projects", false, "runs of every project, and of no project")
	return p
}

// scope is the runs the command covers in namespace: -all-projects, else
// -project, else CARAVAN_PROJECT, else the project of the configuration
// directory the command runs in; with none of these, every project (what
// else could a command run outside any project show?).
func (p *projectFlags) scope(env Env, namespace string) (query.Scope, error) {
	sc := query.Scope{Namespace: namespace, AllProjects: true}
	if p.all {
		return sc, nil
	}
	project := p.project
	if project == "" {
		project = env.Getenv("CARAVAN_PROJECT")
	}
	if project == "" {
		project = spec.ProjectOf(".")
	}
	if project == "" {
		return sc, nil
	}
	if !record.ProjectNameRE.MatchString(project) {
		return sc, fmt.Errorf("%q is not a project name: use lower-case letters, digits, '-' and '_' (see `caravan ls -all-projects` for the projects in use)", project)
	}
	return query.Scope{Namespace: namespace, Project: project}, nil
}

// parseRunArg parses the flags of logs, rerun and show and resolves their
// single RUN argument to its run, so that the three refuse a wrong argument
// count and report an unknown run in the same words. ok=false comes with
// the exit code.
func parseRunArg(ctx context.Context, env Env, fs *flag.FlagSet, nf *nomadFlags, args []string) (cl *nomad.Client, ri *query.Found, code int, ok bool) {
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return nil, nil, code, false
	}
	if len(pos) != 1 {
		errorf(env, "%s takes one run ID (see `caravan ls`)", fs.Name())
		return nil, nil, ExitUsage, false
	}
	cl, err := nf.client(env)
	if err != nil {
		return nil, nil, nomadError(env, err), false
	}
	ri, err = query.Find(ctx, cl, pos[0])
	if err != nil {
		return nil, nil, nomadError(env, err), false
	}
	return cl, ri, ExitOK, true
}
