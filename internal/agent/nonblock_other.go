//go:build !unix

package agent

const openNonblock = 0
