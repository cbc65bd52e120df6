package nomad

import (
	"sort"
	"strings"
)

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func sortStrings(s []string) []string {
	sort.Strings(s)
	return s
}
