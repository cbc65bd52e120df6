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
// A run can be expanded again at other params (`caravan rerun -param`,
// point.go, snapshot.go). Its record keeps the compiled job, in which args
// and env are already strings: a param that reached them through a
// template or a function ("--warmup ${param.lr * 100}", upper(param.opt))
// cannot be changed there without guessing where it went, and replacing
// its text would also change any other value that happens to read the
// same. So apply keeps a snapshot of what it loaded (SnapshotOf: the
// configuration files' text and every variable's final value, with its
// type), content-addressed beside the runs' records, and a clone loads it
// again (LoadSnapshot) with a Point: the run's experiment at exactly the
// given params, through the same expansion as a sweep point and the same
// checks (declared params only, each of its declared type). Reloaded at
// the run's own params, a snapshot must give the run's own spec hash
// before a clone is made from it, so a clone differs from its run in the
// edited params alone, and gets the ID the files would give that point.
//
// The package is pure apart from reading the files it is given: no clock,
// no network, no environment except what LoadOptions carries.
package spec
