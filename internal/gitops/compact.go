package gitops

import "bytes"

// stripNulls removes the object members whose value is null from compact
// JSON as encoding/json writes it. The api.Job encoding is mostly nulls
// (every unset pointer field); a record keeps the job without them, which
// decodes to the same api.Job and makes each record write - the half of
// apply's Nomad traffic that a plain register loop does not have - about
// half as large.
func stripNulls(in []byte) []byte {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		if in[i] != '"' {
			out = append(out, in[i])
			i++
			continue
		}
		j := stringEnd(in, i)
		// In compact JSON a string followed by ':' is an object key.
		if j < len(in) && in[j] == ':' && bytes.HasPrefix(in[j+1:], []byte("null")) && j+5 < len(in) && (in[j+5] == ',' || in[j+5] == '}') {
			k := j + 5
			if in[k] == ',' {
				i = k + 1
				continue
			}
			if n := len(out); n > 0 && out[n-1] == ',' {
				out = out[:n-1]
			}
			i = k
			continue
		}
		out = append(out, in[i:j]...)
		i = j
	}
	return out
}

// stringEnd returns the index just after the string starting at in[i].
func stringEnd(in []byte, i int) int {
	for j := i + 1; j < len(in); j++ {
		switch in[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(in)
}
