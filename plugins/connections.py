"""Every Datasette connection: foreign keys on, as the ingest connections do, and a busy
timeout chosen on purpose.

community.db is in WAL mode (set by `ingest.schema.connect`, persistent in the file), so
readers never wait for a writer. Writers do wait for each other: Datasette's write thread
(forms, JSON write API, stored write queries, restore) and `shequ ingest`, which holds the
write lock for the whole of one sheet - all-or-nothing - so for tens of seconds on a
100 000-row file. Python's default timeout (5 s) would turn such a wait into "database is
locked" on a staff member's save; instead a write waits until the import has committed.
BUSY_TIMEOUT_MS is far above the longest import measured (tests/test_load.py), so no
user sees the error; a save made during a long import is slow, never refused or lost.
"""
from datasette import hookimpl

BUSY_TIMEOUT_MS = 300_000


@hookimpl
def prepare_connection(conn):
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
