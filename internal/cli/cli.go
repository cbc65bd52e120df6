package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
)

// Exit codes shared by every command. Commands with a documented convention
// of their own (plan -detailed-exitcode, fmt -check) add to these.
const (
	ExitOK      = 0
	ExitError   = 1
	ExitChanges = 2 // plan -detailed-exitcode: the plan has changes
	// ExitUsage is for bad flags or arguments. It is 1, as in terraform and
	// nomad, not the flag package's 2: with -detailed-exitcode a typo must
	// never read as "the plan has changes".
	ExitUsage = 1
	ExitFmt   = 3 // fmt -check: some files are not canonical
)

// Env is everything a command may touch outside its arguments. Tests build
// one with buffers and a fake environment; main uses StdEnv.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the process environment (NOMAD_ADDR, CARAVAN_VAR_*, ...).
	Getenv func(string) string
	// Environ lists the environment as KEY=VALUE pairs.
	Environ func() []string
	// Logger receives key/value logs of long-running commands.
	Logger *slog.Logger
	// Images resolves image tags to digests (plan, apply, run, render
	// -pin); nil means the container registries themselves.
	Images ImageResolver
}

// StdEnv is the Env of a real process.
func StdEnv() Env {
	return Env{
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Getenv:  os.Getenv,
		Environ: os.Environ,
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

// command is one caravan subcommand. run gets the arguments after the
// command name and returns the process exit code.
type command struct {
	name     string
	synopsis string
	run      func(ctx context.Context, env Env, args []string) int
	// rawStdout leaves the command's stdout unfiltered: what it prints
	// there is data passed through on purpose (task logs, formatted
	// source), not text caravan composes. Stderr is always filtered.
	rawStdout bool
}

var commands = map[string]command{}

// register adds a command; each command file calls it from init so that
// commands can be added without editing a shared table.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("cli: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// Main runs caravan with args (without the program name) and returns the
// exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Logger == nil {
		env.Logger = slog.New(slog.NewTextHandler(env.Stderr, nil))
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Environ == nil {
		env.Environ = func() []string { return nil }
	}
	if len(args) == 0 {
		usage(env.Stderr)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(env.Stdout)
		return ExitOK
	case "-v", "-version", "--version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(env.Stderr, "caravan: unknown command %q\n\n", visible(name))
		usage(env.Stderr)
		return ExitUsage
	}
	// Text output shows control characters from outside (job meta,
	// records, node names, task events, Nomad's errors, HCL values, file
	// names) as escapes, so that none can drive the terminal; -json
	// output is unchanged in meaning (see appendVisible).
	stderr := newSafeWriter(env.Stderr)
	env.Stderr = stderr
	defer stderr.Flush()
	if !c.rawStdout {
		stdout := newSafeWriter(env.Stdout)
		env.Stdout = stdout
		defer stdout.Flush()
	}
	return c.run(ctx, env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: caravan <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].synopsis)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "caravan <command> -h" for a command's flags.`)
}

// newFlagSet returns a FlagSet that reports errors to env.Stderr and whose
// usage line names the command. Parse errors give ExitUsage via parseFlags.
func newFlagSet(env Env, name, argsSynopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		// Commands without arguments pass "", which must not leave a trailing space.
		fmt.Fprintf(env.Stderr, "%s\n\n", strings.TrimSpace("Usage: caravan "+name+" [flags] "+argsSynopsis))
		if c, ok := commands[name]; ok {
			fmt.Fprintf(env.Stderr, "%s\n", c.synopsis)
		}
		// A command without flags (version) gets no empty "Flags:" heading.
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(env.Stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, allowing flags after positional arguments (as
// users of terraform and nomad type them: "caravan plan ./dir -json").
// It returns the positional arguments, and ok=false with an exit code when
// parsing failed or help was asked for.
func parseFlags(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, ExitOK, false
			}
			return nil, ExitUsage, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// writeJSON prints v as the indented JSON document of a command's -json
// output. On failure it reports "what: error" and returns ExitError.
func writeJSON(env Env, v any, what string) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
	}
	if err != nil {
		errorf(env, "%s: %v", what, err)
		return ExitError
	}
	return ExitOK
}

// errorf prints a user-facing error: what failed, then a hint on the next
// line when there is one.
func errorf(env Env, format string, a ...any) {
	fmt.Fprintf(env.Stderr, "Error: "+format+"\n", a...)
}
