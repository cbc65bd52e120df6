// Package internal holds caravan's packages and no code of its own. Its
// test keeps the import graph the shape ../shared/DESIGN.md draws: the pure
// core (spec, compile, gitops' plan, autoscale's decision) at the centre,
// each external system reached through the one package that owns it, and
// test fakes out of the binaries. Another keeps the functions of the
// packages a newcomer reads first under 80 lines.
package internal
