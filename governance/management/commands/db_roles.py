from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from governance import db_roles


class Command(BaseCommand):
    help = ("Set up least-privilege PostgreSQL roles: OWNER owns every table (run migrations as "
            "it), APP (what Gatehouse connects as) cannot UPDATE/DELETE append-only tables, "
            "TRUNCATE anything or change the schema. Prints the SQL; --apply runs it (as a "
            "superuser or the database owner). Run again after every migrate.")

    def add_arguments(self, parser):
        parser.add_argument("--owner", default="gatehouse_owner", help="Migration role.")
        parser.add_argument("--app", default="gatehouse_app", help="Application role.")
        parser.add_argument("--schema", default="public")
        parser.add_argument("--apply", action="store_true", help="Run the statements now.")

    def handle(self, *args, **opts):
        if connection.vendor != "postgresql":
            raise CommandError("Database roles are a PostgreSQL setup; this database is "
                               f"{connection.vendor}.")
        with transaction.atomic(), connection.cursor() as cur:
            tables, functions = db_roles.current_objects(cur, opts["schema"])
            try:
                statements = db_roles.role_sql(
                    owner=opts["owner"], app=opts["app"], schema=opts["schema"],
                    database=connection.settings_dict["NAME"], tables=tables,
                    functions=functions)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            for sql in statements:
                self.stdout.write(sql + ";")
                if opts["apply"]:
                    cur.execute(sql)
