package scan

import scalibrlog "github.com/google/osv-scalibr/log"

// osv-scalibr logs through one process-wide logger that prints to stderr,
// including on every image without an os-release file. Its extractors'
// errors reach us as return values, which run logs with context, so the
// library's own lines are dropped. Set once at init, because SetLogger is
// not safe to call while extractors run.
func init() { scalibrlog.SetLogger(quiet{}) }

type quiet struct{}

func (quiet) Errorf(string, ...any) {}
func (quiet) Error(...any)          {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Warn(...any)           {}
func (quiet) Infof(string, ...any)  {}
func (quiet) Info(...any)           {}
func (quiet) Debugf(string, ...any) {}
func (quiet) Debug(...any)          {}
