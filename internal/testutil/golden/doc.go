// Package golden compares test output with golden files under a package's
// testdata directory, and rewrites them when the tests run with -update.
// Only tests import it; it exists so that every package's golden files
// behave alike under -update (directories created, nothing compared).
package golden
