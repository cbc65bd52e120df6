package compile

import "strings"

// Nomad interpolates the strings of a task when it starts it: a param
// value "${node.unique.name}" would reach the process as the node's name,
// and the run would not get the value its record and job meta show. Every
// string caravan puts where Nomad interpolates is therefore escaped so that
// interpolation gives back exactly what was declared:
//
//   - the driver config (command, args, image) is evaluated as an HCL
//     template, in which "$${" is a literal "${" and "%%{" a literal "%{";
//   - env values go through Nomad's own ${name} replacement, which has no
//     escape. There a literal "${" is written "${NOMAD_META_caravan_dollar}{":
//     the task meta caravan_dollar is "$", Nomad replaces the reference
//     with it in one pass and does not look at the "{" after it again.
//
// Job meta is left as declared: it is the record caravan reads back. Nomad
// also interpolates it into the task's NOMAD_META_* variables, which a run
// should therefore not read its params from; CARAVAN_PARAM_* are exact.

// MetaDollar is the task meta key whose value "$" env values refer to for
// a literal "${"; it is set only on tasks that need it.
const MetaDollar = "caravan_dollar"

// envDollar is what stands for "${" in an env value.
const envDollar = "${NOMAD_META_" + MetaDollar + "}{"

// escapeTemplate escapes s for a string of the driver config.
func escapeTemplate(s string) string {
	if !strings.Contains(s, "${") && !strings.Contains(s, "%{") {
		return s
	}
	s = strings.ReplaceAll(s, "${", "$${")
	return strings.ReplaceAll(s, "%{", "%%{")
}

// escapeEnv escapes s for an env value; changed says whether the task
// needs the MetaDollar meta.
func escapeEnv(s string) (escaped string, changed bool) {
	if !strings.Contains(s, "${") {
		return s, false
	}
	return strings.ReplaceAll(s, "${", envDollar), true
}
