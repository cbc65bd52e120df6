package cli

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/caravan-ml/caravan/internal/record"
)

// pushImage pushes a random image to the in-process registry at host as
// repo:tag and returns its digest.
func pushImage(t *testing.T, host, repoTag string) string {
	t.Helper()
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

func dockerHCL(image, pinning string) string {
	return `experiment "train" {
  pool    = "gpu"
  image   = "` + image + `"
  image_pinning = "` + pinning + `"
  command = "python"
  args    = ["train.py"]
  resources {
    gpus = 1
  }
}
`
}

func TestApplyPinsImageTags(t *testing.T) {
	reg := httptest.NewServer(ggcr.New())
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	digest := pushImage(t, host, "acme/train:1.4")
	srv, env := gitopsCluster(t)
	image := host + "/acme/train:1.4"
	dir := writeConfigDir(t, map[string]string{"train.hcl": dockerHCL(image, "pin")})

	r := execCaravan(t, env, "", "render", dir)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, `"image": "`+image+`"`, `"caravan_image_pinning": "pin"`)
	id := decodeJobStream(t, r.stdout)[0].ID
	r = execCaravan(t, env, "", "render", dir, "-pin")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, `"image": "`+host+"/acme/train@"+digest+`"`, `"caravan_image_digest": "`+digest+`"`)

	r = execCaravan(t, env, "", "plan", dir)
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "+ "+*id, "image="+image+" ("+digest[:len("sha256:")+12]+")")
	r = execCaravan(t, env, "", "plan", dir, "-json")
	mustContain(t, r.stdout, `"image_digest": "`+digest+`"`)

	r = execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitOK)
	job, _, err := srv.APIClient(t).Jobs().Info(*id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := job.TaskGroups[0].Tasks[0].Config["image"]; got != host+"/acme/train@"+digest {
		t.Errorf("submitted image %v, want %s", got, host+"/acme/train@"+digest)
	}
	if job.Meta[record.MetaImage] != image || job.Meta[record.MetaImageDigest] != digest {
		t.Errorf("meta image %q digest %q", job.Meta[record.MetaImage], job.Meta[record.MetaImageDigest])
	}

	// The tag moves: the run keeps its ID and is not submitted again; the
	// run that exists ran the digest it was pinned to.
	moved := pushImage(t, host, "acme/train:1.4")
	r = execCaravan(t, env, "", "plan", dir, "-detailed-exitcode")
	mustCode(t, r, ExitOK)
	mustContain(t, r.stdout, "= "+*id, "0 to create, 1 unchanged")
	if moved == digest {
		t.Fatal("the pushed image did not change")
	}

	// A rerun runs what the run ran: the digest it was pinned to, not the
	// one the tag names now.
	mustCode(t, execCaravan(t, env, "", "stop", *id), ExitOK)
	r = execCaravan(t, env, "", "rerun", *id)
	mustCode(t, r, ExitOK)
	rerun := gitopsRerunID(*id, 1)
	mustContain(t, r.stdout, "Submitted "+rerun)
	job, _, err = srv.APIClient(t).Jobs().Info(rerun, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := job.TaskGroups[0].Tasks[0].Config["image"]; got != host+"/acme/train@"+digest {
		t.Errorf("the rerun runs image %v, want the pinned %s (the tag now names %s)", got, host+"/acme/train@"+digest, moved)
	}
}

func TestApplyUnreachableRegistrySubmitsNothing(t *testing.T) {
	reg := httptest.NewServer(ggcr.New())
	host := strings.TrimPrefix(reg.URL, "http://")
	pushImage(t, host, "acme/train:1.4")
	srv, env := gitopsCluster(t)
	dir := writeConfigDir(t, map[string]string{
		"a.hcl": dockerHCL(host+"/acme/train:1.4", "pin"),
		"b.hcl": strings.Replace(dockerHCL(host+"/acme/eval:1.4", "pin"), `"train"`, `"eval"`, 1),
	})
	reg.Close()
	r := execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitError)
	mustContain(t, r.stderr, "resolve image "+host+"/acme/", "registry "+host)
	if n := srv.Requests("PUT /v1/jobs"); n != 0 {
		t.Errorf("apply registered %d jobs with a registry it could not reach", n)
	}
	// allow-mutable submits the tag as it is, without asking the registry.
	dir = writeConfigDir(t, map[string]string{"a.hcl": dockerHCL(host+"/acme/train:1.4", "allow-mutable")})
	r = execCaravan(t, env, "", "apply", dir)
	mustCode(t, r, ExitOK)
	if n := srv.Requests("PUT /v1/jobs"); n != 1 {
		t.Errorf("%d registrations, want 1", n)
	}
}
