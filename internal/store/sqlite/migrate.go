package sqlite

// migrations is the schema's history: migration i brings the database to
// version i+1. Append only; never edit one that has shipped, since
// databases already past it will not run it again. Each runs in the same
// transaction as the version row that records it.
var migrations = []string{
	// 1: what the pull-through cache needs.
	`
CREATE TABLE repositories (
	id   INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);

-- tags holds what each tag points at now; tag_history every digest it
-- has pointed at, appended when the digest changes.
CREATE TABLE tags (
	repo_id    INTEGER NOT NULL REFERENCES repositories (id),
	name       TEXT NOT NULL,
	digest     TEXT NOT NULL,
	media_type TEXT NOT NULL,
	size       INTEGER NOT NULL,
	checked_at INTEGER NOT NULL,
	PRIMARY KEY (repo_id, name)
) WITHOUT ROWID;

CREATE TABLE tag_history (
	id      INTEGER PRIMARY KEY,
	repo_id INTEGER NOT NULL,
	tag     TEXT NOT NULL,
	digest  TEXT NOT NULL,
	seen_at INTEGER NOT NULL,
	FOREIGN KEY (repo_id, tag) REFERENCES tags (repo_id, name)
);
CREATE INDEX tag_history_by_tag ON tag_history (repo_id, tag, id);

-- subject is '' for manifests that refer to nothing.
CREATE TABLE manifests (
	repo_id       INTEGER NOT NULL REFERENCES repositories (id),
	digest        TEXT NOT NULL,
	media_type    TEXT NOT NULL,
	size          INTEGER NOT NULL,
	subject       TEXT NOT NULL,
	artifact_type TEXT NOT NULL,
	cached_at     INTEGER NOT NULL,
	PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;
CREATE INDEX manifests_by_subject ON manifests (repo_id, subject) WHERE subject != '';

CREATE TABLE repo_blobs (
	repo_id INTEGER NOT NULL REFERENCES repositories (id),
	digest  TEXT NOT NULL,
	size    INTEGER NOT NULL,
	PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;

-- blob_access is keyed by digest alone: the bytes are shared by every
-- repository that references them.
CREATE TABLE blob_access (
	digest      TEXT PRIMARY KEY,
	accessed_at INTEGER NOT NULL
) WITHOUT ROWID;
`,
	// 2: the firewall's verdicts, quarantine, waivers and audit log.
	firewallSchema,
	// 3: finding an image's verdicts in every repository.
	`CREATE INDEX fw_verdicts_by_digest ON fw_verdicts (digest);`,
	// 4: the pull log, audit queries, vulnerability ids of verdicts,
	// quarantine filters and policies set at run time.
	auditSchema,
	// 5: hourly statistics for the dashboard's charts.
	statsSchema,
	// 6: users, API tokens, login sessions and named secrets.
	accessSchema,
}
