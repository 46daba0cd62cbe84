"""PostgreSQL, as Django's backend, with a health check that costs no round trip when the
connection is plainly alive.

Django's health check (`CONN_HEALTH_CHECKS`) runs `SELECT 1` before the first query of every
request on a reused connection. On a two-core machine one round trip to the database is worth
about half a millisecond (both processes must be woken), a seventh of a registration. A
connection the server has dropped always says so on its socket: a backend that is terminated
(`pg_terminate_backend`, a restart, `idle_session_timeout`) sends its FATAL message and closes,
and one whose host or proxy went away is closed by the kernel (end of file): either way the
socket turns readable. So an idle connection whose socket has nothing to read, polled without
waiting, is healthy as far as `SELECT 1` could tell; anything else (something to read, a
transaction left open, a broken or closed connection) takes Django's ordinary check, which
reconnects if it fails. A peer that vanished without a word (no FIN, no RST) is not seen by
either: `SELECT 1` would wait on it as long as the request's own query does.

It also gives the few statements every API request runs (the token's user, a registration, a
version's read) a cursor that binds on the server and prepares the statement on first use
(`prepared_cursor`): the statement is parsed and planned once per connection instead of on every
request. Everything else keeps Django's default (client-side binding, nothing prepared), which
connection poolers in transaction mode need; `DB_PREPARED_STATEMENTS=0` turns the prepared
cursor off as well (behind such a pooler, e.g. PgBouncer older than 1.21).
"""

from __future__ import annotations

import select

from django.conf import settings
from django.db.backends.postgresql import base, operations
from psycopg import errors
from psycopg.pq import TransactionStatus


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        if isinstance(cursor, base.ServerBindingCursor):  # what Django logs for such cursors
            try:
                return self.compose_sql(sql, params)
            except errors.DataError:  # a value it cannot quote (as Django does): not logged
                return None
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        # Prepare on first use. Only server-binding cursors consult it, and only
        # `prepared_cursor` makes them (never with DB_PREPARED_STATEMENTS off).
        connection.prepare_threshold = 0
        return connection

    def prepared_cursor(self):
        """A Django cursor (statements logged and wrapped like any other) whose statements are
        bound on the server and, unless DB_PREPARED_STATEMENTS is off, prepared once per
        connection. For statements with explicit column lists only: a prepared `SELECT *`
        fails once a migration adds a column."""
        if not settings.DB_PREPARED_STATEMENTS:
            return self.cursor()
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor = base.ServerBindingCursor(self.connection)
            # As Django's create_cursor: the session's time zone when the connection's differs.
            loader = self.connection.adapters.get_loader(base.TIMESTAMPTZ_OID, base.Format.TEXT)
            if self.timezone != loader.timezone:
                base.register_tzloader(self.timezone, cursor)
            return self._prepare_cursor(cursor)

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and self._socket_is_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _socket_is_quiet(self) -> bool:
        connection = self.connection
        try:
            if connection.closed or connection.broken:
                return False
            if connection.info.transaction_status != TransactionStatus.IDLE:
                return False
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError, AttributeError):
            return False
        return not readable
