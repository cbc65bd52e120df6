// Package sweepdir writes a configuration directory whose one experiment's
// grid sweep expands to a chosen number of runs. Only tests and benchmarks
// import it; it exists so that every benchmark of `caravan validate`, plan
// and compile at 1k/10k/100k runs measures the same input.
package sweepdir
