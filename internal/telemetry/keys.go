// Package telemetry holds the log setup and the field keys every structured
// log line uses, so the same thing is never logged under two names.
//
// Rules: messages are fixed lower-case phrases and variable parts are
// fields; Debug is per-request detail, Info is lifecycle and one line per
// request, Warn is degraded but serving (stale cache, retries), Error is for
// when an operator must act. Authorization headers, passwords and tokens are
// never logged.
package telemetry

// Field keys for slog. Use these constants, never string literals.
const (
	KeyRepo      = "repo"
	KeyReference = "reference"
	KeyDigest    = "digest"
	KeyUpstream  = "upstream"
	KeyMethod    = "method"
	KeyPath      = "path"
	KeyStatus    = "status"
	KeyBytes     = "bytes"
	KeyDuration  = "duration"
	KeyCache     = "cache" // hit, miss, stale, negative
	KeyRequestID = "request_id"
	KeyAttempt   = "attempt"
	KeyError     = "err"
	KeyURL       = "url"
	KeyAddr      = "addr"
	KeyRemote    = "remote"
)

// Keys added by the upstream client.
const (
	KeyWait = "wait" // how long before the next attempt
)

// Keys added by the start-up log of cmd/breakwater.
const (
	KeyVersion     = "version"
	KeyDataDir     = "data"
	KeyChanged     = "changed"     // settings that differ from the defaults
	KeyDefault     = "default"     // whether an upstream is the default one
	KeyCredentials = "credentials" // whether credentials are configured, never their value
)

// Keys added by the vulnerability database.
const (
	KeySource  = "source"  // an import source: a path or URL without credentials
	KeyRecords = "records" // how many records an import stored
	KeyUnknown = "unknown" // how many files an import did not recognise
)

// Keys added by layer inspection.
const (
	KeyExtractor = "extractor" // the osv-scalibr extractor that read a file
)

// Keys added by the server wiring.
const (
	KeyReason = "reason" // why something is not ready or was refused, fit for operators
	KeyMode   = "mode"   // a firewall mode: off, audit or quarantine
	KeyFeeds  = "feeds"  // how many vulnerability feeds are configured
	// KeyInterval is how often something recurs, such as the feed refresh;
	// KeyDuration is how long something took.
	KeyInterval = "interval"
)

// Keys added by the firewall.
const (
	KeyRule         = "rule"     // the policy that decided a verdict
	KeyDecision     = "decision" // allow, audit, quarantine, inspection-failed
	KeyQuarantineID = "quarantine_id"
)

// Keys added by the server's background work.
const (
	KeyImages   = "images"   // how many images an operation touched
	KeyPolicies = "policies" // the names of the configured policies, in order
	KeyRules    = "rules"    // how many per-repository firewall rules are configured
)

// Keys added by access control (package auth).
const (
	KeyUser      = "user"     // a user name
	KeyActor     = "actor"    // who made a change: a user, "cli:<login>" for a command, "breakwater" for the first admin
	KeyRole      = "role"     // reader or admin
	KeyTokenName = "token"    // an API token's name, never its secret
	KeyTokenID   = "token_id" // an API token's ID
	KeyFile      = "file"     // a file written or read, such as the first admin's password file
	KeyPerm      = "perm"     // a file's permission bits, such as -rwxr-xr-x
	KeySessions  = "sessions" // how many login sessions an operation ended
)

// Keys added by the firewall's pull log.
const (
	KeyDropped = "dropped" // how many pull log entries were lost
)
