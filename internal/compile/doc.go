// Package compile turns runs into Nomad jobs. It is pure: the same run and
// options always give the same *api.Job, byte for byte once encoded, which
// is what makes run IDs content-addressed and apply idempotent.
//
// # The job
//
// Job builds what `nomad job run -output` would print for the equivalent
// jobspec: only the fields a jobspec would set are set, everything else is
// nil so that Nomad fills its own defaults when the job is registered.
// RenderJSON encodes it exactly as Nomad does (checked byte for byte against
// jobs recorded from Nomad 2.0.5 in testdata/nomad), RenderHCL writes the
// jobspec itself. Every job has one group "run" (count 1) with one task
// "train"; restarts in place are off (attempts 0, mode "fail") and retries
// are reschedule attempts, whose interval and delay come from Nomad's batch
// defaults (24h, 5s constant). GPUs are a device request named by the
// pool's gpu attribute (default "nvidia/gpu") with a ${device.model} regexp
// constraint for gpu_model (matching the name as a literal substring) and a
// ${device.attr.memory} >= "40 GiB" constraint for gpu_memory. A source
// block becomes a git artifact at the exact commit in local/src with the
// command's work_dir in it (source.go); a timeout becomes the group's
// max_run_duration, with a constraint that keeps the run on clients that
// enforce it. PinImage (link.go) rewrites a job's image tag to the digest
// apply resolved, and LinkDependencies names, in each job of an experiment
// with depends_on, the run IDs it waits for.
//
// # Run IDs
//
// A run's ID is "<experiment>-<first 8 hex digits of SpecHash>", where
// SpecHash is the sha256 of ResolvedSpec: canonical JSON of everything in
// the run that decides what executes — experiment name, pool name,
// priority, namespace, source, driver, image, command, args, env, typed
// params, resources, timeout, retries, depends_on and rerun. It leaves out,
// so that changing them re-runs nothing: description and tags, the file and
// line of the block and the sweep index, the configuration's git commit and
// dirty flag, what a pool block maps the pool to (node pool, GPU device
// name, autoscaling), the digest an image tag is pinned to (the image is
// hashed as declared, so re-resolving a tag names the same run) and the
// upstream run IDs a dependent run waits for. Those still appear in the job (meta, node pool), so a
// consumer compares runs by ID or record.MetaSpecHash, never by the whole job.
//
// Eight hex digits are 32 bits, so two different runs of a large sweep can
// share an ID (about 1% for 10k runs). Disambiguate, applied to all jobs of
// a configuration, gives every such run but one a longer prefix of its hash;
// callers that compile a whole configuration use it and take IDs from the
// jobs rather than from RunID.
package compile
