"""Run the test OIDC provider: `python serve.py DATA_DIR`. Binds a free loopback port, migrates
its own SQLite database, creates the users and clients of DATA_DIR/people.json, prints
`READY <issuer>` and serves until terminated."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


def main() -> None:
    data = Path(sys.argv[1])
    server = make_server("127.0.0.1", 0, lambda e, s: [], server_class=_Server,
                         handler_class=_QuietHandler)
    issuer = f"http://127.0.0.1:{server.server_port}/o"
    os.environ["OIDC_PROVIDER_DIR"] = str(data)
    os.environ["OIDC_PROVIDER_ISSUER"] = issuer
    os.environ["DJANGO_SETTINGS_MODULE"] = "oidc_provider.settings"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    people = json.loads((data / "people.json").read_text())
    for username, person in people["users"].items():
        user = User.objects.create(username=username, email=person.get("email", ""))
        user.set_password(person["password"])
        user.save()
    for client_id, conf in people["clients"].items():
        Application.objects.create(
            name=client_id,
            client_id=client_id,
            client_secret=conf["secret"],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=conf.get("grant", Application.GRANT_AUTHORIZATION_CODE),
            redirect_uris=" ".join(conf.get("redirect_uris", [])),
            algorithm=Application.RS256_ALGORITHM,
            skip_authorization=True,
        )
    server.set_app(get_wsgi_application())
    print(f"READY {issuer}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
