package cli

import (
	"context"
	"fmt"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/registry"
	"github.com/hashicorp/nomad/api"
)

// ImageResolver resolves image references to the digests their registries
// serve now; *registry.Resolver is the real one. It fails as a whole when
// any image fails, naming the image and its registry.
type ImageResolver interface {
	Digests(ctx context.Context, images []string) (map[string]string, error)
}

func (env Env) images() ImageResolver {
	if env.Images != nil {
		return env.Images
	}
	return &registry.Resolver{}
}

// needsPin reports whether job runs a tag that apply must pin: its
// experiment's image_pinning is "pin" and it was not declared by digest.
func needsPin(job *api.Job) bool {
	m := job.Meta
	return m[record.MetaImage] != "" && m[record.MetaImageDigest] == "" && m[record.MetaImagePinning] == record.PinningPin
}

// pinImages resolves the tag of every job that needsPin, each distinct
// image once, and makes those jobs run it by digest. Nothing is changed
// unless every image resolved: a plan is never half pinned.
func pinImages(ctx context.Context, env Env, jobs []*api.Job) error {
	var images []string
	for _, j := range jobs {
		if needsPin(j) {
			images = append(images, j.Meta[record.MetaImage])
		}
	}
	if len(images) == 0 {
		return nil
	}
	digests, err := env.images().Digests(ctx, images)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if !needsPin(j) {
			continue
		}
		d, ok := digests[j.Meta[record.MetaImage]]
		if !ok {
			return fmt.Errorf("resolve image %s: the registry lookup gave no digest", j.Meta[record.MetaImage])
		}
		if err := compile.PinImage(j, d); err != nil {
			return err
		}
	}
	return nil
}
