// Package archtest holds tests that keep the package map true: which part
// may import which, and that every package carries a doc comment. It has no
// code of its own.
package archtest
