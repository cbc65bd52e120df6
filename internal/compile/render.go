package compile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
)

// RenderJSON encodes job exactly as `nomad job run -output` prints a
// jobspec: the {"Job": {...}} envelope that PUT /v1/jobs takes, fields in
// the api.Job order, unset fields as null, four-space indent, no HTML
// escaping, and a final newline. The recorded fixtures of Nomad 2.0.5 are
// reproduced byte for byte by this encoding.
func RenderJSON(job *api.Job) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(struct{ Job *api.Job }{job}); err != nil {
		return nil, fmt.Errorf("compile: encoding job %s: %w", deref(job.ID), err)
	}
	return buf.Bytes(), nil
}

// RenderHCL writes job as a Nomad jobspec that `nomad job run` accepts and
// parses back to the same job. It knows the parts of a job that Job
// produces; strings are written as HCL literals, so a "${...}" in a value
// reaches Nomad as written (escaped as "$${...}"). HCL reads string
// literals in Unicode NFC, so text that is not NFC (only possible from a
// CARAVAN_VAR_* or -var value) comes back normalized; RenderJSON keeps it.
func RenderHCL(job *api.Job) ([]byte, error) {
	if job == nil || job.ID == nil {
		return nil, fmt.Errorf("compile: rendering a job without ID")
	}
	f := hclwrite.NewEmptyFile()
	jb := f.Body().AppendNewBlock("job", []string{*job.ID}).Body()
	if job.Name != nil && *job.Name != *job.ID {
		jb.SetAttributeValue("name", cty.StringVal(*job.Name))
	}
	setString(jb, "namespace", job.Namespace)
	setString(jb, "type", job.Type)
	setString(jb, "node_pool", job.NodePool)
	setInt(jb, "priority", job.Priority)
	if job.Datacenters != nil {
		jb.SetAttributeValue("datacenters", stringList(job.Datacenters))
	}
	if err := writeMap(jb, "meta", job.Meta); err != nil {
		return nil, err
	}
	for _, tg := range job.TaskGroups {
		if err := writeGroup(jb, tg); err != nil {
			return nil, err
		}
	}
	return hclwrite.Format(f.Bytes()), nil
}

func writeGroup(parent *hclwrite.Body, tg *api.TaskGroup) error {
	parent.AppendNewline()
	g := parent.AppendNewBlock("group", []string{deref(tg.Name)}).Body()
	setInt(g, "count", tg.Count)
	if tg.MaxRunDuration != nil {
		g.SetAttributeValue("max_run_duration", cty.StringVal(tg.MaxRunDuration.String()))
	}
	for _, c := range tg.Constraints {
		g.AppendNewline()
		writeConstraint(g, c)
	}
	if rp := tg.RestartPolicy; rp != nil {
		g.AppendNewline()
		b := g.AppendNewBlock("restart", nil).Body()
		setInt(b, "attempts", rp.Attempts)
		setString(b, "mode", rp.Mode)
	}
	if rp := tg.ReschedulePolicy; rp != nil {
		g.AppendNewline()
		b := g.AppendNewBlock("reschedule", nil).Body()
		setInt(b, "attempts", rp.Attempts)
		if rp.Unlimited != nil {
			b.SetAttributeValue("unlimited", cty.BoolVal(*rp.Unlimited))
		}
	}
	if d := tg.EphemeralDisk; d != nil {
		g.AppendNewline()
		setInt(g.AppendNewBlock("ephemeral_disk", nil).Body(), "size", d.SizeMB)
	}
	writeVolumes(g, tg.Volumes)
	for _, t := range tg.Tasks {
		if err := writeTask(g, t); err != nil {
			return err
		}
	}
	return nil
}

func writeTask(parent *hclwrite.Body, t *api.Task) error {
	parent.AppendNewline()
	tb := parent.AppendNewBlock("task", []string{t.Name}).Body()
	tb.SetAttributeValue("driver", cty.StringVal(t.Driver))
	writeKill(tb, t)
	if len(t.Config) > 0 {
		tb.AppendNewline()
		cb := tb.AppendNewBlock("config", nil).Body()
		// A readable order: what runs, then how.
		order := []string{"image", "command", "args", "work_dir", "shm_size"}
		for _, k := range slices.Sorted(maps.Keys(t.Config)) {
			if !slices.Contains(order, k) {
				order = append(order, k)
			}
		}
		for _, k := range order {
			v, ok := t.Config[k]
			if !ok {
				continue
			}
			cv, err := configValue(v)
			if err != nil {
				return fmt.Errorf("compile: task %s config %s: %w", t.Name, k, err)
			}
			cb.SetAttributeValue(k, cv)
		}
	}
	for _, a := range t.Artifacts {
		tb.AppendNewline()
		ab := tb.AppendNewBlock("artifact", nil).Body()
		setString(ab, "source", a.GetterSource)
		setString(ab, "destination", a.RelativeDest)
		if err := writeMap(ab, "options", a.GetterOptions); err != nil {
			return err
		}
	}
	if err := writeMap(tb, "env", t.Env); err != nil {
		return err
	}
	if err := writeMap(tb, "meta", t.Meta); err != nil {
		return err
	}
	if r := t.Resources; r != nil {
		tb.AppendNewline()
		rb := tb.AppendNewBlock("resources", nil).Body()
		setInt(rb, "cpu", r.CPU)
		setInt(rb, "cores", r.Cores)
		setInt(rb, "memory", r.MemoryMB)
		for _, d := range r.Devices {
			db := rb.AppendNewBlock("device", []string{d.Name}).Body()
			if d.Count != nil {
				db.SetAttributeValue("count", cty.NumberUIntVal(*d.Count))
			}
			for _, c := range d.Constraints {
				writeConstraint(db, c)
			}
		}
	}
	return nil
}

func writeConstraint(parent *hclwrite.Body, c *api.Constraint) {
	cb := parent.AppendNewBlock("constraint", nil).Body()
	cb.SetAttributeValue("attribute", cty.StringVal(c.LTarget))
	cb.SetAttributeValue("operator", cty.StringVal(c.Operand))
	cb.SetAttributeValue("value", cty.StringVal(c.RTarget))
}

// writeMap writes meta and env as blocks of attributes, the form Nomad's
// documentation uses, or, when a key is not an HCL identifier (a dot in
// an env name), as a map attribute `env = { "a.b" = "x" }`, the form Nomad
// documents for such keys.
func writeMap(parent *hclwrite.Body, name string, m map[string]string) error {
	if len(m) == 0 {
		return nil
	}
	parent.AppendNewline()
	keys := slices.Sorted(maps.Keys(m))
	if !slices.ContainsFunc(keys, func(k string) bool { return !hclsyntax.ValidIdentifier(k) }) {
		b := parent.AppendNewBlock(name, nil).Body()
		for _, k := range keys {
			b.SetAttributeValue(k, cty.StringVal(m[k]))
		}
		return nil
	}
	vals := make(map[string]cty.Value, len(m))
	for k, v := range m {
		vals[k] = cty.StringVal(v)
	}
	parent.SetAttributeValue(name, cty.ObjectVal(vals))
	return nil
}

func configValue(v any) (cty.Value, error) {
	switch v := v.(type) {
	case string:
		return cty.StringVal(v), nil
	case []string:
		return stringList(v), nil
	case int64:
		return cty.NumberIntVal(v), nil
	case int:
		return cty.NumberIntVal(int64(v)), nil
	case bool:
		return cty.BoolVal(v), nil
	}
	return cty.NilVal, fmt.Errorf("unsupported value type %T", v)
}

func stringList(s []string) cty.Value {
	if len(s) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(s))
	for i, x := range s {
		vals[i] = cty.StringVal(x)
	}
	return cty.TupleVal(vals)
}

func setString(b *hclwrite.Body, name string, v *string) {
	if v != nil {
		b.SetAttributeValue(name, cty.StringVal(*v))
	}
}

func setInt(b *hclwrite.Body, name string, v *int) {
	if v != nil {
		b.SetAttributeValue(name, cty.NumberIntVal(int64(*v)))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
