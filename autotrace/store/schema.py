"""The layout of the local trace store, and how an older layout is brought up to date.

The store is one SQLite file. Its layout version lives in `PRAGMA user_version`
(0 means "nothing created yet"). Opening a store runs `migrate()`, which walks the
file forward one version at a time through `MIGRATIONS`; a file written by a newer
autotrace than this one is refused with `SchemaTooNew` instead of being misread.

Tables (version 1):

  spans            one row per span; JSON columns hold attributes, events, links and
                   resource as text. PRIMARY KEY(trace_id, span_id) makes re-exporting
                   a span a no-op.
  traces           one summary row per trace, updated as its spans arrive (in any
                   order, from any process): time range, span and error counts, the
                   root span once it arrives, and the earliest span seen so far so an
                   incomplete trace can still be labelled.
  trace_services   which services took part in which trace (service filter, service
                   list of a trace).
  span_attributes  short string/number/bool attribute and resource values per trace,
                   so `key=value` search is an index lookup instead of a JSON scan.
"""

SCHEMA_VERSION = 1

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


_V1 = """
CREATE TABLE spans (
    trace_id        TEXT    NOT NULL,           -- 32 lower-case hex chars
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
    PRIMARY KEY (trace_id, span_id)
);
-- Per-service questions (operations, latency, error rate over a time window).
CREATE INDEX spans_by_service ON spans (service_name, start_ns);

CREATE TABLE traces (
    trace_id        TEXT    PRIMARY KEY,
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

CREATE TABLE trace_services (
    service_name    TEXT    NOT NULL,
    trace_id        TEXT    NOT NULL,
    PRIMARY KEY (service_name, trace_id)
) WITHOUT ROWID;
CREATE INDEX trace_services_by_trace ON trace_services (trace_id, service_name);

CREATE TABLE span_attributes (
    key             TEXT    NOT NULL,
    value           TEXT    NOT NULL,           -- bools as true/false, numbers as text
    trace_id        TEXT    NOT NULL,
    PRIMARY KEY (key, value, trace_id)
) WITHOUT ROWID;
-- Deliberately no index on span_attributes (trace_id): random trace ids scatter its
-- writes over the whole index, which cost about 40% of write speed in
-- benchmarks/bench_store.py. Pruning, the one user, scans the table instead.
"""


def _create_v1(conn):
    # Not executescript(): it commits the caller's transaction. (So: no ';' in comments.)
    for statement in _V1.split(";"):
        if statement.strip():
            conn.execute(statement)


# MIGRATIONS[n] upgrades a store at version n to version n + 1, inside the caller's
# transaction. Version 0 is an empty file, so its "upgrade" creates everything.
MIGRATIONS = {
    0: _create_v1,
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
        MIGRATIONS[version](conn)
        version += 1
        # PRAGMA does not take parameters; `version` is our own int.
        conn.execute(f"PRAGMA user_version = {int(version)}")
    return found
