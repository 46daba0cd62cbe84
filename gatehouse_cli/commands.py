"""The `gatehouse` commands. Each prints one readable line (or `--json`: the API's answer) and
exits with the codes in gatehouse_cli.client."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import click

from gatehouse_cli.client import EXIT_AUTH, EXIT_FAILED, Api, CliError, load_login, save_login
from gatehouse_cli.upload import MultipartFile

REF = re.compile(r"^(?P<name>[-a-zA-Z0-9_]+)@(?P<version>[1-9][0-9]*)$")
TERMINAL = {"succeeded", "failed", "cancelled"}


class Context:
    def __init__(self, as_json: bool, progress: bool | None):
        self.as_json = as_json
        self.progress = sys.stderr.isatty() if progress is None else progress

    def api(self) -> Api:
        return Api(*load_login())

    def emit(self, body: Any, line: str) -> None:
        click.echo(json.dumps(body, indent=2, sort_keys=True) if self.as_json else line)


def _ref(value: str, what: str = "MODEL@VERSION") -> tuple[str, int]:
    match = REF.match(value.strip())
    if not match:
        raise click.BadParameter(f"{value!r} is not {what} (e.g. credit-default@3).")
    return match["name"], int(match["version"])


def _json_option(value: str | None, name: str) -> dict | None:
    if value is None:
        return None
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=name) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object", param_hint=name)
    return parsed


@click.group()
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bars on standard error (default: when it is a terminal).")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, progress: bool | None) -> None:
    """Gatehouse from a pipeline: register versions, run evidence jobs, request promotions."""
    ctx.obj = Context(as_json, progress)


@cli.command()
@click.option("--url", envvar="GATEHOUSE_URL", required=True, help="e.g. https://gatehouse.example.com")
@click.option("--token", envvar="GATEHOUSE_TOKEN", help="An API token (`manage.py create_token`).")
@click.pass_obj
def login(obj: Context, url: str, token: str | None) -> None:
    """Check a token against Gatehouse and save it for the next commands."""
    if not token:
        if not sys.stdin.isatty():
            raise CliError("Give --token (or GATEHOUSE_TOKEN): there is no terminal to ask on.",
                           EXIT_AUTH)
        token = click.prompt("Token", hide_input=True)
    me = Api(url, token).get("/api/v1/me/")
    path = save_login(url, token)
    obj.emit(me, f"Logged in to {url.rstrip('/')} as {me['username']} "
                 f"({', '.join(me['roles']) or 'no roles'}); saved in {path}.")


@cli.command()
@click.argument("model")
@click.option("--artifact", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A .skops or .onnx file to upload.")
@click.option("--artifact-uri", help="Where the artifact already is (with --sha256).")
@click.option("--sha256", "artifact_sha256", help="The artifact's sha256.")
@click.option("--format", "artifact_format", type=click.Choice(["skops", "onnx"]))
@click.option("--trained-on", multiple=True, metavar="DATASET@V")
@click.option("--evaluated-on", multiple=True, metavar="DATASET@V")
@click.option("--parent", multiple=True, metavar="MODEL@V")
@click.option("--framework")
@click.option("--framework-version")
@click.option("--code-repository")
@click.option("--code-commit")
@click.option("--hyperparameters", help="JSON object, or @file.json")
@click.option("--metrics", help="JSON object of numbers, or @file.json")
@click.option("--description")
@click.option("--tag", "tags", multiple=True)
@click.option("--create-model", is_flag=True, help="Register MODEL first if it does not exist.")
@click.option("--team", help="Owning team, with --create-model.")
@click.pass_obj
def register(obj: Context, model: str, artifact: Path | None, **options) -> None:
    """Register the next version of MODEL."""
    api = obj.api()
    if not artifact and not options["artifact_uri"]:
        raise click.UsageError("Give --artifact FILE, or --artifact-uri with --sha256.")
    if options.pop("create_model"):
        _ensure_model(api, model, options.pop("team"))
    else:
        options.pop("team")
    fields: list[tuple[str, str]] = []
    for key, value in options.items():
        if value in (None, (), ""):
            continue
        name = {"trained_on": "training_datasets", "evaluated_on": "evaluation_datasets",
                "parent": "parents"}.get(key, key)
        if key in ("hyperparameters", "metrics"):
            fields.append((name, json.dumps(_json_option(value, "--" + key))))
        elif isinstance(value, tuple):
            fields += [(name, v) for v in value]
        else:
            fields.append((name, value))
    path = f"/api/v1/models/{model}/versions/"
    if artifact is None:
        body = api.post(path, data=fields)
    else:
        body = _upload(api, path, fields, artifact, show=obj.progress)
    obj.emit(body, f"Registered {body['model']}@{body['version']} "
                   f"(artifact sha256 {body.get('artifact_sha256') or '-'}).")


def _ensure_model(api: Api, model: str, team: str | None) -> None:
    try:
        api.get(f"/api/v1/models/{model}/")
    except CliError as exc:
        if not (isinstance(exc.body, dict) and exc.body.get("code") == "not_found"):
            raise
        api.post("/api/v1/models/", json={"name": model, **({"team": team} if team else {})})


def _upload(api: Api, path: str, fields, artifact: Path, *, show: bool) -> Any:
    from tqdm import tqdm

    with tqdm(total=artifact.stat().st_size, unit="B", unit_scale=True, disable=not show,
              desc=f"Uploading {artifact.name}", file=sys.stderr) as bar:
        body = MultipartFile(fields, "artifact", artifact, on_progress=bar.update)
        return api.post(path, data=body, headers={"Content-Type": body.content_type},
                        timeout=None)


@cli.group()
def job() -> None:
    """Evidence jobs: SHAP, fairness, drift."""


@job.command("start")
@click.argument("model_version", metavar="MODEL@V")
@click.option("--kind", required=True, type=click.Choice(["shap", "fairness", "drift"]))
@click.option("--dataset", required=True, metavar="DATASET@V")
@click.option("--reference-dataset", metavar="DATASET@V", help="Drift baseline.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A job parameter; VALUE is read as JSON when it parses (e.g. '[\"sex\"]').")
@click.option("--wait", "wait_for", is_flag=True, help="Wait for the job to finish.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait, with --wait.")
@click.pass_obj
def job_start(obj: Context, model_version: str, kind: str, dataset: str,
              reference_dataset: str | None, params: tuple[str, ...], wait_for: bool,
              timeout: float) -> None:
    """Start a job on MODEL@V over DATASET@V."""
    name, number = _ref(model_version)
    payload: dict[str, Any] = {"kind": kind, "dataset": dataset, "params": _params(params)}
    if reference_dataset:
        payload["reference_dataset"] = reference_dataset
    api = obj.api()
    body = api.post(f"/api/v1/models/{name}/versions/{number}/jobs/", json=payload)
    if wait_for:
        _wait(obj, api, body["id"], timeout)
        return
    obj.emit(body, f"Job {body['id']} ({kind}) {body['status']}.")


def _params(items: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE.", param_hint="--param")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


@job.command("wait")
@click.argument("job_id", type=int)
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait.")
@click.pass_obj
def job_wait(obj: Context, job_id: int, timeout: float) -> None:
    """Wait for job JOB_ID; exit 0 when it succeeded, 1 when it failed or was cancelled."""
    _wait(obj, obj.api(), job_id, timeout)


def _wait(obj: Context, api: Api, job_id: int, timeout: float) -> None:
    from tqdm import tqdm

    deadline, delay = time.monotonic() + timeout, 0.2
    with tqdm(total=100, unit="%", disable=not obj.progress, desc=f"Job {job_id}",
              file=sys.stderr) as bar:
        while True:
            body = api.get(f"/api/v1/jobs/{job_id}/")
            bar.update(max(0, int(body.get("progress") or 0) - bar.n))
            if body["status"] in TERMINAL:
                break
            if time.monotonic() > deadline:
                raise CliError(f"Job {job_id} is still {body['status']} after {timeout:g} s.")
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)
    if body["status"] != "succeeded":
        error = body.get("error") or {}
        reason = error.get("message") or body["status"]
        if obj.as_json:
            click.echo(json.dumps(body, indent=2, sort_keys=True))
        raise CliError(f"Job {job_id} {body['status']}: {reason}", EXIT_FAILED, body)
    obj.emit(body, f"Job {job_id} ({body['kind']}) succeeded on {body['model_version']}.")


@cli.group()
def promote() -> None:
    """Promotion requests."""


@promote.command("request")
@click.argument("model_version", metavar="MODEL@V")
@click.option("--stage", "target_stage", required=True, type=click.Choice(["staging", "production"]))
@click.option("--justification", required=True)
@click.pass_obj
def promote_request(obj: Context, model_version: str, target_stage: str, justification: str) -> None:
    """Ask for MODEL@V to move to a stage."""
    name, number = _ref(model_version)
    body = obj.api().post("/api/v1/promotions/", json={
        "model": name, "version": number, "target_stage": target_stage,
        "justification": justification,
    })
    obj.emit(body, _promotion_line(body))


@promote.command("status")
@click.argument("request_id", type=int)
@click.pass_obj
def promote_status(obj: Context, request_id: int) -> None:
    """Where promotion request REQUEST_ID stands, and what it still needs."""
    body = obj.api().get(f"/api/v1/promotions/{request_id}/")
    obj.emit(body, _promotion_line(body))


def _promotion_line(body: dict) -> str:
    line = (f"Promotion #{body['id']} of {body['model']}@{body['version']} to "
            f"{body['target_stage']}: {body['state']}")
    missing = body.get("approvals_missing") or []
    gates = [item["label"] for item in (body.get("gate_report") or {}).get("items", [])
             if not item.get("met")]
    if missing:
        line += f"; awaiting {', '.join(missing)}"
    if gates:
        line += f"; gates not met: {', '.join(gates)}"
    return line + "."


@cli.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@click.pass_obj
def audit_verify(obj: Context) -> None:
    """Verify the whole audit log on the server; exit 1 when it is broken."""
    body = obj.api().get("/api/v1/audit-events/verify/", timeout=None)
    if not body.get("ok"):
        if obj.as_json:
            click.echo(json.dumps(body, indent=2, sort_keys=True))
        where = body.get("broken_at", body.get("first_bad_position"))
        raise CliError(f"Audit log broken at position {where}: {body.get('reason', '')}".strip(),
                       EXIT_FAILED, body)
    obj.emit(body, f"Audit log verified: {body.get('checked')} events intact.")


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_FAILED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CliError as exc:
        click.echo(f"gatehouse: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(0)
