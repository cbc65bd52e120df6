// Package spec is caravan's experiment language: the HCL schema of every
// block, decoding, variables, locals, functions, sweeps and diagnostics.
//
// Load reads one configuration directory (every *.hcl file in it, like a
// Terraform root module) and yields a Config whose Runs are the expanded
// sweep points. Everything here returns hcl.Diagnostics with source ranges;
// conversion to errors and exit codes happens in internal/cli.
package spec
