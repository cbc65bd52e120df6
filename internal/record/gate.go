package record

import (
	"encoding/json"
	"strings"
	"time"
)

// A run that depends on other runs (depends_on) is not registered with
// Nomad until they completed: apply writes a Gate instead, and the
// controller registers the gate's job once every run in WaitFor completed
// successfully, then deletes the gate. Until then the run holds no
// allocation and no GPU, and Nomad's garbage collector cannot lose it.
//
// Gates live apart from records (GatesPrefix, not ProjectsPrefix) so that a
// token that may write run records or usage (the node agent's) cannot make
// the controller register a job.
const GatesPrefix = "caravan/gates/"

// noProjectSegment stands for "no project" in a gate's path: no project
// name can be "_" (ProjectNameRE).
const noProjectSegment = "_"

// Gate is a run waiting for others, as the controller keeps it.
type Gate struct {
	RunID      string `json:"run_id"`
	Project    string `json:"project,omitempty"`
	Experiment string `json:"experiment"`
	Namespace  string `json:"namespace"`
	// WaitFor are the run IDs that must complete first.
	WaitFor []string `json:"wait_for"`
	// Job is the compiled job (api.Job JSON), exactly as apply would have
	// registered it; the controller registers it unchanged.
	Job       json.RawMessage `json:"job"`
	CreatedAt time.Time       `json:"created_at"`
	// ReleasingAt is set, check-and-set, right before the controller
	// registers the job: a controller that finds it set and no job knows
	// a release was interrupted (see the controller's dependencies).
	ReleasingAt time.Time `json:"releasing_at,omitzero"`
}

// GateRef says where a gate is.
type GateRef struct {
	Namespace string
	Project   string
	RunID     string
}

// Path is the Variable path of the gate.
func (g GateRef) Path() string { return GateProjectPrefix(g.Project) + g.RunID }

// Ref is where the gate of g is, in g's namespace.
func (g *Gate) Ref() GateRef {
	return GateRef{Namespace: g.Namespace, Project: g.Project, RunID: g.RunID}
}

// GateProjectPrefix is the path prefix of project's gates.
func GateProjectPrefix(project string) string {
	if project == "" {
		project = noProjectSegment
	}
	return GatesPrefix + project + "/"
}

// ParseGatePath reads a gate's project and run ID from its path.
func ParseGatePath(path string) (project, runID string, ok bool) {
	rest, found := strings.CutPrefix(path, GatesPrefix)
	if !found {
		return "", "", false
	}
	project, runID, found = strings.Cut(rest, "/")
	if !found || project == "" || runID == "" || strings.Contains(runID, "/") {
		return "", "", false
	}
	if project == noProjectSegment {
		project = ""
	} else if !ProjectNameRE.MatchString(project) {
		return "", "", false
	}
	return project, runID, true
}
