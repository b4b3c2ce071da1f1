"""Every Datasette connection enforces foreign keys, as the ingest connections do."""
from datasette import hookimpl


@hookimpl
def prepare_connection(conn):
    conn.execute("PRAGMA foreign_keys = ON")
