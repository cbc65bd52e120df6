// Package nomad is the only package that talks to Nomad. It owns client
// configuration (NOMAD_* environment variables exactly as the nomad CLI reads
// them), a timeout on every call, readable errors, run records and usage
// summaries in Nomad Variables, the event stream, and the mapping of Nomad
// job and allocation states to run states.
package nomad
