// Package compile turns runs into Nomad jobs. It is pure: the same run and
// options always give the same *api.Job, byte for byte once encoded, which
// is what makes run IDs content-addressed and apply idempotent.
package compile
