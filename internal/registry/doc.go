// Package registry resolves container image tags to digests through the
// registry API (github.com/google/go-containerregistry), so that apply can
// submit the image a tag names now, by digest, instead of a tag that may
// name another image tomorrow.
//
// It is the only package that talks to container registries. Credentials
// come from the Docker configuration of the machine that runs caravan
// (docker login, credential helpers), as for docker pull; each lookup is
// bounded by Resolver.Timeout and the caller's context.
package registry
