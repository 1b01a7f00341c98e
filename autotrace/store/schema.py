"""The layout of the local trace store, and how an older layout is brought up to date.

The store is one SQLite file. Its layout version lives in `PRAGMA user_version`
(0 means "nothing created yet"). Opening a store runs `migrate()`, which walks the
file forward one version at a time through `MIGRATIONS`; a file written by a newer
autotrace than this one is refused with `SchemaTooNew` instead of being misread.

Tables (version 3):

  inbox            what apps have exported and nobody has indexed yet: one row per
                   exported batch, the spans packed as one blob (store/spool.py). An app
                   only appends here, which costs it a few microseconds per span; the
                   indexing below is done later by a reader (`autotrace traces`,
                   `autotrace view`...) or by the app's export thread when the app is
                   idle (store/indexer.py).

  traces           one summary row per trace, updated as its spans arrive (in any
                   order, from any process): time range, span and error counts, the
                   root span once it arrives, and the earliest span seen so far so an
                   incomplete trace can still be labelled. Its `trace_no` (the rowid)
                   grows as traces are first written: it is the live list's cursor and
                   the key every other table uses instead of the 32-digit trace id.
  spans            one row per span; JSON columns hold attributes, events, links and
                   resource as text. Keyed by (trace_no, span_id), so re-exporting a
                   span is a no-op and new spans land at the end of the index.
  span_attributes  (key, value, trace_no) for short string/number/bool attribute and
                   resource values, and for each service of the trace (key
                   `service.name`), so `key=value` search and the service filter are
                   index lookups instead of JSON scans.
  calls            one row per entry span: a span whose parent is missing or belongs to
                   another service (a root, a SERVER span, a consumer), with its
                   caller's service once the parent is known. The service map and
                   per-service latency read this small table, not every span.

Version 2 had no inbox: apps indexed every span as they exported it (~45 us of CPU
per span in the app). Version 1 keyed everything by the 32-character trace id: every span cost a random
insert into the spans key, a service index and two trace_services indexes, and the
attribute index entries were three times bigger. The 1 -> 2 migration copies the data.
"""

SCHEMA_VERSION = 3

# Attribute values longer than this are not indexed for search: they are rarely
# searched for verbatim and would bloat the index.
MAX_INDEXED_VALUE = 256
MAX_INDEXED_KEY = 128


class SchemaTooNew(Exception):
    """The store was written by a newer autotrace that uses a layout we do not know."""

    def __init__(self, found, supported=SCHEMA_VERSION):
        self.found = found
        self.supported = supported
        super().__init__(
            f"the trace store uses schema version {found}, but this autotrace only "
            f"understands up to version {supported}; upgrade autotrace to read or write it")


# The version 1 layout, kept so the migration (and its tests) know what they read.
V1 = """
CREATE TABLE spans (
    trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT,
    service_name TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, duration_ns INTEGER NOT NULL,
    status_code TEXT NOT NULL, status_message TEXT,
    attributes TEXT NOT NULL DEFAULT '{}', events TEXT NOT NULL DEFAULT '[]',
    links TEXT NOT NULL DEFAULT '[]', resource TEXT NOT NULL DEFAULT '{}',
    scope_name TEXT, scope_version TEXT,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX spans_by_service ON spans (service_name, start_ns);
CREATE TABLE traces (
    trace_id TEXT PRIMARY KEY, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL, root_span_id TEXT, root_service TEXT, root_name TEXT,
    first_service TEXT NOT NULL, first_name TEXT NOT NULL, span_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL, services TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX traces_by_start ON traces (start_ns);
CREATE INDEX traces_by_duration ON traces (duration_ns);
CREATE TABLE trace_services (
    service_name TEXT NOT NULL, trace_id TEXT NOT NULL,
    PRIMARY KEY (service_name, trace_id)
) WITHOUT ROWID;
CREATE INDEX trace_services_by_trace ON trace_services (trace_id, service_name);
CREATE TABLE span_attributes (
    key TEXT NOT NULL, value TEXT NOT NULL, trace_id TEXT NOT NULL,
    PRIMARY KEY (key, value, trace_id)
) WITHOUT ROWID
"""

# No semicolons in comments below: the text is split on them.
V2 = """
CREATE TABLE traces (
    trace_no        INTEGER PRIMARY KEY,        -- the rowid: grows as traces arrive
    trace_id        TEXT    NOT NULL UNIQUE,    -- 32 lower-case hex chars
    start_ns        INTEGER NOT NULL,
    end_ns          INTEGER NOT NULL,
    duration_ns     INTEGER NOT NULL,
    root_span_id    TEXT,                       -- NULL until the root span arrives
    root_service    TEXT,
    root_name       TEXT,
    first_service   TEXT    NOT NULL,           -- earliest span seen so far
    first_name      TEXT    NOT NULL,
    span_count      INTEGER NOT NULL,
    error_count     INTEGER NOT NULL,
    services        TEXT    NOT NULL DEFAULT '[]'  -- JSON array, sorted
);
-- The trace list is read newest first. The duration filter can walk its own index.
CREATE INDEX traces_by_start ON traces (start_ns);
CREATE INDEX traces_by_duration ON traces (duration_ns);

CREATE TABLE spans (
    trace_no        INTEGER NOT NULL,           -- traces.trace_no
    span_id         TEXT    NOT NULL,           -- 16 lower-case hex chars
    parent_span_id  TEXT,                       -- NULL for a root span
    service_name    TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,           -- INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER
    start_ns        INTEGER NOT NULL,           -- unix epoch nanoseconds
    end_ns          INTEGER NOT NULL,
    duration_ns     INTEGER NOT NULL,           -- never negative
    status_code     TEXT    NOT NULL,           -- UNSET, OK, ERROR
    status_message  TEXT,
    attributes      TEXT    NOT NULL DEFAULT '{}',
    events          TEXT    NOT NULL DEFAULT '[]',
    links           TEXT    NOT NULL DEFAULT '[]',
    resource        TEXT    NOT NULL DEFAULT '{}',
    scope_name      TEXT,
    scope_version   TEXT,
    PRIMARY KEY (trace_no, span_id)
);
-- No index by service or time: per-service questions read `calls`, and the one
-- left (operations of a service) is rare enough to scan for.

CREATE TABLE span_attributes (
    key             TEXT    NOT NULL,
    value           TEXT    NOT NULL,           -- bools as true/false, numbers as text
    trace_no        INTEGER NOT NULL,
    PRIMARY KEY (key, value, trace_no)
) WITHOUT ROWID;
-- Deliberately no index by trace_no: pruning, the one user, sweeps the table once
-- per prune instead, and every span's writes stay in one index.

CREATE TABLE calls (
    trace_no        INTEGER NOT NULL,
    span_id         TEXT    NOT NULL,           -- the entry span
    parent_span_id  TEXT,                       -- NULL for a root
    caller          TEXT,                       -- the parent's service, NULL while unknown
    service_name    TEXT    NOT NULL,           -- the callee
    start_ns        INTEGER NOT NULL,
    duration_ns     INTEGER NOT NULL,
    error           INTEGER NOT NULL            -- 1 if the entry span failed
);
CREATE INDEX calls_by_start ON calls (start_ns);
-- Entries still waiting for their parent (usually sent later by the calling process).
CREATE INDEX calls_waiting ON calls (trace_no, parent_span_id)
    WHERE caller IS NULL AND parent_span_id IS NOT NULL
"""


# Version 3: the inbox. `span_count` lets pruning and `autotrace doctor` tell how much
# is waiting without unpacking; `format` names the packing (store/spool.py).
INBOX = """
CREATE TABLE inbox (
    batch_no        INTEGER PRIMARY KEY,        -- the rowid: grows as batches arrive
    format          INTEGER NOT NULL,
    span_count      INTEGER NOT NULL,
    body            BLOB    NOT NULL
)
"""


def _statements(text):
    return [statement for statement in text.split(";") if statement.strip()]


def _create_latest(conn):
    # Not executescript(): it commits the caller's transaction. (So: no ';' in comments.)
    for statement in _statements(V2) + _statements(INBOX):
        conn.execute(statement)
    return SCHEMA_VERSION


def _v1_to_v2(conn):
    """Copy a version 1 store into the version 2 tables (one transaction: a store that
    is interrupted half-way stays at version 1)."""
    for table in ("spans", "traces", "trace_services", "span_attributes"):
        conn.execute(f"ALTER TABLE {table} RENAME TO v1_{table}")
    for index in ("spans_by_service", "traces_by_start", "traces_by_duration",
                  "trace_services_by_trace"):
        conn.execute(f"DROP INDEX IF EXISTS {index}")
    for statement in _statements(V2):
        conn.execute(statement)
    # Old rowids keep the live cursor's order.
    conn.execute(
        "INSERT INTO traces SELECT rowid, trace_id, start_ns, end_ns, duration_ns, "
        "root_span_id, root_service, root_name, first_service, first_name, span_count, "
        "error_count, services FROM v1_traces ORDER BY rowid")
    conn.execute(
        "INSERT OR IGNORE INTO spans SELECT t.trace_no, s.span_id, s.parent_span_id, "
        "s.service_name, s.name, s.kind, s.start_ns, s.end_ns, s.duration_ns, "
        "s.status_code, s.status_message, s.attributes, s.events, s.links, s.resource, "
        "s.scope_name, s.scope_version FROM v1_spans s JOIN traces t USING (trace_id) "
        "ORDER BY t.trace_no, s.span_id")
    conn.execute(
        "INSERT OR IGNORE INTO span_attributes SELECT a.key, a.value, t.trace_no "
        "FROM v1_span_attributes a JOIN traces t USING (trace_id)")
    conn.execute(
        "INSERT OR IGNORE INTO span_attributes SELECT 'service.name', s.service_name, "
        "t.trace_no FROM v1_trace_services s JOIN traces t USING (trace_id)")
    # Entry spans: no parent, a parent not stored, or a parent in another service.
    conn.execute(
        "INSERT INTO calls SELECT c.trace_no, c.span_id, c.parent_span_id, p.service_name, "
        "c.service_name, c.start_ns, c.duration_ns, c.status_code = 'ERROR' "
        "FROM spans c LEFT JOIN spans p "
        "ON p.trace_no = c.trace_no AND p.span_id = c.parent_span_id "
        "WHERE p.span_id IS NULL OR p.service_name != c.service_name")
    for table in ("spans", "traces", "trace_services", "span_attributes"):
        conn.execute(f"DROP TABLE v1_{table}")
    # Hand the old tables' pages back to the file system (auto_vacuum is incremental).
    conn.execute("PRAGMA incremental_vacuum").fetchall()
    return 2


def _v2_to_v3(conn):
    for statement in _statements(INBOX):
        conn.execute(statement)
    return 3


# MIGRATIONS[n] upgrades a store at version n, inside the caller's transaction, and
# returns the version it reached. Version 0 is an empty file: it gets the latest layout.
MIGRATIONS = {
    0: _create_latest,
    1: _v1_to_v2,
    2: _v2_to_v3,
}


def read_version(conn):
    return conn.execute("PRAGMA user_version").fetchone()[0]


def check_version(version, supported=None):
    """Raise SchemaTooNew if `version` is newer than this code understands."""
    supported = SCHEMA_VERSION if supported is None else supported
    if version > supported:
        raise SchemaTooNew(version, supported)


def migrate(conn):
    """Bring the store up to SCHEMA_VERSION. Returns the version found before.

    The caller must hold a write transaction (BEGIN IMMEDIATE) so two processes opening
    a new store at once cannot both create the tables. The version is read inside that
    transaction for the same reason.
    """
    found = read_version(conn)
    check_version(found)
    version = found
    while version < SCHEMA_VERSION:
        version = MIGRATIONS[version](conn) or version + 1
        # PRAGMA does not take parameters; `version` is our own int.
        conn.execute(f"PRAGMA user_version = {int(version)}")
    return found
