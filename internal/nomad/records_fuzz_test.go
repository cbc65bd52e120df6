package nomad

import (
	"testing"

	"github.com/caravan-ml/caravan/internal/record"
)

// FuzzDecodeRecordItems: whatever a variable holds, decoding a record
// from it returns a record or an error, never a panic.
func FuzzDecodeRecordItems(f *testing.F) {
	f.Add("record", `{"run_id":"a","params":{"lr":0.1}}`)
	f.Add("record_gz", "H4sIAAAAAAAA/6pWKkpNzMnMS1WyUlAqS8wpTVWqBQAAAP//AQAA//8=")
	f.Add("record", "{")
	f.Add("other", "x")
	f.Fuzz(func(t *testing.T, key, value string) {
		var r record.Run
		_ = decodeItem(map[string]string{key: value}, itemRecord, itemRecordGz, &r)
		var u record.Usage
		_ = decodeItem(map[string]string{key: value}, itemUsage, itemUsageGz, &u)
	})
}
