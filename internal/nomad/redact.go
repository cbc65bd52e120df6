package nomad

import (
	"regexp"
	"strings"
)

// A Nomad address may carry HTTP basic-auth credentials
// (http://user:password@host:4646; the api package sends them). The
// address appears in every error, hint, log line and UI link this package
// makes, so the client keeps two forms: the one it calls, and one for
// people, without the credentials.

// userinfoRE matches the scheme and userinfo of URLs in free text (the
// greedy part stops at the authority's end, so a password with an
// unencoded "@" is covered to its last "@").
var userinfoRE = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/?#\s"']*@`)

// redactText replaces the userinfo of every URL in s with "***".
func redactText(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return userinfoRE.ReplaceAllString(s, "${1}***@")
}

// redactAddress is an address as given (a URL or not) with what may be
// credentials replaced by "***": everything between the scheme and the
// last "@", or before the last "@" when there is no scheme.
func redactAddress(addr string) string {
	at := strings.LastIndex(addr, "@")
	if at < 0 {
		return addr
	}
	start := 0
	if i := strings.Index(addr, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	return addr[:start] + "***" + addr[at:]
}

// withoutUserinfo is the address with no credentials at all, for links a
// browser opens.
func withoutUserinfo(addr string) string {
	if r := redactAddress(addr); r != addr {
		return strings.Replace(r, "***@", "", 1)
	}
	return addr
}
