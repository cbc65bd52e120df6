// Package syncbuf is a bytes.Buffer that a writer goroutine (a logger, a
// command under test, Terraform's output copiers) and the reading test can
// share. Only tests import it.
package syncbuf
