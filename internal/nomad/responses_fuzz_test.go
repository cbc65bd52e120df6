package nomad

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzCopyFrames: a log stream is Nomad's JSON frames, decoded by caravan
// itself. Whatever the bytes, copyFrames returns, and what it wrote is the
// data of the frames it decoded, in order.
func FuzzCopyFrames(f *testing.F) {
	frame := func(s string) string {
		b, _ := json.Marshal(map[string]any{"Data": base64.StdEncoding.EncodeToString([]byte(s)), "Offset": 3, "File": "stdout"})
		return string(b)
	}
	f.Add([]byte(frame("epoch 1\n") + "{}" + frame("\x1b[31mred\n")))
	f.Add([]byte(`{"Data":"not base64"}`))
	f.Add([]byte(`{"Data":null}{"FileEvent":"file deleted"}` + "\n\n" + `{`))
	f.Add([]byte(strings.Repeat("{}", 1000)))
	f.Fuzz(func(t *testing.T, stream []byte) {
		var out bytes.Buffer
		err := copyFrames(&out, bytes.NewReader(stream))
		var want bytes.Buffer
		dec := json.NewDecoder(bytes.NewReader(stream))
		for {
			var fr struct{ Data []byte }
			if dec.Decode(&fr) != nil {
				break
			}
			want.Write(fr.Data)
		}
		if !bytes.HasPrefix(want.Bytes(), out.Bytes()) && err == nil {
			t.Fatalf("wrote %q, the frames hold %q", out.Bytes(), want.Bytes())
		}
	})
}

// FuzzErrorText: Nomad's answers to failed calls (status and body) are
// turned into caravan's errors by matching their text. Whatever Nomad
// says, the error is a sentence that names the call, and the credentials
// of the address do not leak into it.
func FuzzErrorText(f *testing.F) {
	f.Add("Unexpected response code: 403 (Permission denied)")
	f.Add("Unexpected response code: 500 (rpc error: nonexistent node pool \"x\")")
	f.Add("Unexpected response code: 409 (cas conflict {\"ModifyIndex\": 9})")
	f.Add(`Get "http://alice:***@nomad:4646/v1/jobs": dial tcp: connection refused`)
	f.Add("Unexpected response code: 999 (\x1b]0;x\x07 namespace not found)")
	c, err := New(Config{Address: "http://alice:s3cret@nomad:4646", Getenv: func(string) string { return "" }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		e := c.fail(op{what: "list jobs", thing: `job "x"`, need: "list-jobs", ns: "default"}, errors.New(msg))
		text := e.Error()
		if text == "" || !strings.Contains(text, "list jobs") && !strings.Contains(text, `job "x"`) {
			t.Fatalf("error %q does not name the call", text)
		}
		// The address's password must not appear unless Nomad's own
		// words carried it.
		if strings.Contains(text, "s3cret") && !strings.Contains(msg, "s3cret") {
			t.Fatalf("credentials in %q", text)
		}
		_ = casConflict(errors.New(msg), 3)
	})
}
