package hcinstall

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hc-install/product"
)

// Exit codes, as documented in the package comment.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// defaultReleasesURL is where hc-install downloads from unless -releases-url
// names a mirror; it appears in error hints.
const defaultReleasesURL = "https://releases.hashicorp.com"

// products are the binaries this tool installs. hc-install v0.10.0 defines
// Nomad and Terraform, including how to read an installed binary's version
// back; the NVIDIA device plugin every GPU client needs is defined here.
var products = map[string]product.Product{
	"nomad":               product.Nomad,
	"terraform":           product.Terraform,
	"nomad-device-nvidia": nvidiaDevicePlugin,
}

// nvidiaDevicePlugin is Nomad's NVIDIA device plugin as published on the
// release site (nomad-device-nvidia_<v>_<os>_<arch>.zip holding one binary
// of that name). It has no GetVersion: a plugin binary is started by the
// Nomad client over go-plugin and does not print its version when run, so
// it is always downloaded (its signature and checksum still verified).
var nvidiaDevicePlugin = product.Product{
	Name:       "nomad-device-nvidia",
	BinaryName: func() string { return "nomad-device-nvidia" },
}

// options is a parsed command line.
type options struct {
	product     product.Product
	version     *version.Version
	dir         string
	timeout     time.Duration
	releasesURL string // empty: hc-install's default, releases.hashicorp.com
	force       bool
}

// errPrinted marks flag syntax errors, which the flag package has already
// printed together with the usage.
var errPrinted = errors.New("bad flags")

// Run is the whole command for cmd/hcinstall: it installs what args ask
// for and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr, installer{})
}

// run is the whole command: parse, install (or keep what is there), print
// the path on stdout. Messages go to stderr so that
// `NOMAD=$(go run ./cmd/hcinstall ...)` captures only the path.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, inst installer) int {
	opts, err := parseArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		if !errors.Is(err, errPrinted) {
			fmt.Fprintf(stderr, "hcinstall: %v\n", err)
		}
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	path, err := inst.install(ctx, opts, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "hcinstall: %v\n", err)
		return exitError
	}
	fmt.Fprintln(stdout, path)
	return exitOK
}

// parseArgs reads the flags. Every problem is reported as an error that
// names the flag and what to give instead; flag syntax errors have been
// printed by the flag package already and come back wrapped in errPrinted.
func parseArgs(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("hcinstall", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prod := fs.String("product", "", "what to install: "+productList())
	ver := fs.String("version", "", "exact `version` to install, e.g. 2.0.5 (no ranges, no \"latest\": pin what every machine runs)")
	dir := fs.String("dir", "bin", "`directory` to put the binary in (created if missing)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up on the download after this long")
	releasesURL := fs.String("releases-url", "", "`URL` of a mirror laid out like "+defaultReleasesURL+" (default: that site)")
	force := fs.Bool("force", false, "download even if the directory already holds this version")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: go run ./cmd/hcinstall -product nomad|terraform|nomad-device-nvidia -version X [-dir DIR]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Installs a HashiCorp release (signature and checksum verified) and prints its path.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return options{}, err
		}
		return options{}, fmt.Errorf("%w: %v", errPrinted, err)
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q: every input is a flag, e.g. -product nomad -version 2.0.5", fs.Arg(0))
	}
	var o options
	p, ok := products[strings.ToLower(strings.TrimSpace(*prod))]
	switch {
	case *prod == "":
		return options{}, fmt.Errorf("-product is required: give one of %s", productList())
	case !ok:
		return options{}, fmt.Errorf("-product %q is not supported: give one of %s", *prod, productList())
	}
	o.product = p
	if strings.TrimSpace(*ver) == "" {
		return options{}, fmt.Errorf("-version is required: give an exact release such as 2.0.5 (see %s/%s/)", defaultReleasesURL, p.Name)
	}
	v, err := version.NewSemver(strings.TrimSpace(*ver))
	if err != nil {
		return options{}, fmt.Errorf("-version %q is not a release version: give an exact one such as 2.0.5 (see %s/%s/)", *ver, defaultReleasesURL, p.Name)
	}
	o.version = v
	if strings.TrimSpace(*dir) == "" {
		return options{}, errors.New("-dir is empty: give the directory to install into, e.g. -dir bin")
	}
	o.dir = *dir
	if *timeout <= 0 {
		return options{}, fmt.Errorf("-timeout %v must be positive, e.g. -timeout 10m", *timeout)
	}
	o.timeout = *timeout
	if u := strings.TrimRight(strings.TrimSpace(*releasesURL), "/"); u != "" {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return options{}, fmt.Errorf("-releases-url %q must start with http:// or https://", *releasesURL)
		}
		o.releasesURL = u
	}
	o.force = *force
	return o, nil
}

func productList() string {
	names := make([]string, 0, len(products))
	for n := range products {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
