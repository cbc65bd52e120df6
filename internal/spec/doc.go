// Package spec is caravan's experiment language: the HCL schema of every
// block, decoding, variables, locals, functions, sweeps and diagnostics.
//
// Load reads one configuration directory (every *.hcl file in it, like a
// Terraform root module) and yields a Config whose Runs are the expanded
// sweep points. Everything here returns hcl.Diagnostics with source ranges;
// conversion to errors and exit codes happens in internal/cli.
//
// A load runs in phases (load.go): parse every file behind stack-safety
// guards (guard.go), then variables with Terraform's precedence and
// validation (variables.go), locals in dependency order (locals.go), the
// defaults block (settings.go), pools from one table-driven schema
// (pool.go), experiments merged over the defaults (experiment.go), their
// parameter spaces, sized before anything is expanded (sweep.go,
// distributions.go, prng.go), and finally the runs (expand.go prepares
// command, args and env once per experiment; runs.go stamps them out).
//
// Two kinds of directory are loaded. An experiments directory (Load) only
// names pools: what a name means and the operator's policy come from the
// pool catalogue in LoadOptions.Catalog (catalog.go), and every experiment
// is checked against the policy (policy.go); a terraform or policy block
// there is an error. The operator's pools directory (LoadPools) holds the
// pool blocks with their terraform blocks and the policy, and yields the
// Catalog that caravan autoscale publishes.
//
// The package is pure apart from reading the files it is given: no clock,
// no network, no environment except what LoadOptions carries.
package spec
