package compile

import (
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

const (
	gib = int64(1) << 30
)

// fullRun is a run that sets every attribute the compiler reads.
func fullRun() spec.Run {
	e := &spec.Experiment{
		Name:        "resnet50",
		Description: "ResNet-50 baseline",
		Pool:        "a100",
		Priority:    70,
		Namespace:   "ml",
		Tags:        []string{"vision", "baseline"},
		Source:      &spec.Source{Git: "https://github.com/acme/models.git", Commit: "4f2a9c1e", Path: "train"},
		Image:       "ghcr.io/acme/train:1.4",
		Resources: spec.Resources{
			GPUs: 2, GPUModel: "H100", GPUMemory: 40 * gib,
			CPU: 8000, Memory: 64 * gib, SHM: 16 * gib, Disk: 50 * gib,
		},
		Timeout:   12 * time.Hour,
		Retries:   2,
		DependsOn: []string{"prep", "tokenize"},
		DeclRange: hcl.Range{Filename: "experiments/vision.hcl", Start: hcl.Pos{Line: 12, Column: 1, Byte: 200}},
	}
	return spec.Run{
		Experiment: e,
		Index:      3,
		Params: []spec.Param{
			{Name: "batch", Value: cty.NumberIntVal(256)},
			{Name: "lr", Value: cty.NumberFloatVal(0.01)},
			{Name: "opt", Value: cty.StringVal("adam")},
		},
		Command: "python",
		Args:    []string{"train.py", "--lr", "0.01", "--batch", "256"},
		Env:     map[string]string{"WANDB_MODE": "offline", "SEED": "1"},
	}
}

// minimalRun is an exec run with nothing optional set.
func minimalRun() spec.Run {
	return spec.Run{
		Experiment: &spec.Experiment{
			Name: "smoke", Pool: "cpu", Priority: 50, Driver: "exec",
			DeclRange: hcl.Range{Filename: "experiments/smoke.hcl", Start: hcl.Pos{Line: 1, Column: 1}},
		},
		Command: "/bin/true",
	}
}

// fixtureRun is the caravan experiment equivalent to the recorded jobspec
// ../shared/nomad-api-fixtures/jobspecs/gpu-fits.nomad.hcl (gpus sets the
// device count: 1 there, 3 in gpu-too-big).
func fixtureRun(gpus int) spec.Run {
	return spec.Run{
		Experiment: &spec.Experiment{
			Name: "resnet", Pool: "gpu", Priority: 50, Driver: "raw_exec",
			Resources: spec.Resources{GPUs: gpus, GPUMemory: 40 * gib, CPU: 100, Memory: 64 << 20},
			Retries:   1,
			DeclRange: hcl.Range{Filename: "exp/resnet.hcl", Start: hcl.Pos{Line: 1, Column: 1}},
		},
		Params:  []spec.Param{{Name: "lr", Value: cty.NumberFloatVal(0.001)}},
		Command: "/bin/sh",
		Args:    []string{"-c", "env | grep -i -E 'NVIDIA|NOMAD_META' ; sleep 40"},
		Env:     map[string]string{"LR": "${NOMAD_META_caravan_params_lr}"},
	}
}

func testOptions() Options {
	return Options{
		ConfigDir:      "experiments",
		ConfigCommit:   "0123456789abcdef0123456789abcdef01234567",
		CaravanVersion: "1.2.3",
		Pools: map[string]*spec.Pool{
			"a100": {Name: "a100", NodePool: "gpu-a100", GPU: "nvidia/gpu", Declared: true},
			"cpu":  {Name: "cpu", NodePool: "cpu"},
			"gpu":  {Name: "gpu", NodePool: "gpu"},
		},
	}
}
