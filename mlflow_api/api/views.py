"""MLflow's Model Registry REST endpoints (`/api/2.0/mlflow/...`), as the MLflow client calls
them: GET with query parameters, POST/PATCH/DELETE with a JSON body, answers in the JSON shape of
`model_registry.proto`, errors as {"error_code", "message"}. Views parse, call one service or
selector, and render."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rest_framework import exceptions as drf_exceptions
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import DomainError
from governance import permissions as perms
from governance.authentication import TokenAuthentication
from mlflow_api import protocol, selectors, services
from mlflow_api.protocol import MlflowError

logger = logging.getLogger(__name__)

Handler = Callable[[Any, "Params"], dict]


class BasicAuth(BasicAuthentication):
    """MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD: a Gatehouse username and password."""

    www_authenticate_realm = "gatehouse"


class Params:
    """A request's parameters: the query string for GET, the JSON body otherwise (and the query
    string as a fallback, for clients that send DELETE parameters there)."""

    def __init__(self, request):
        self.query = request.query_params
        self.body = request.data if request.method != "GET" and isinstance(request.data, dict) else {}

    def str(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self.body.get(name) if name in self.body else self.query.get(name)
        if value is None or value == "":
            if required:
                raise protocol.invalid(f"Missing value for required parameter '{name}'.")
            return default
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise protocol.invalid(f"Invalid value for parameter '{name}': expected a string.")
        return str(value)

    def int(self, name: str, default: int) -> int:
        raw = self.str(name)
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError:
            raise protocol.invalid(f"Invalid value {raw!r} for parameter '{name}': expected an integer.") from None

    def list(self, name: str) -> list[str]:
        if name in self.body:
            value = self.body[name]
            values = value if isinstance(value, list) else [value]
        else:
            values = self.query.getlist(name)
        return [str(v) for v in values if v not in (None, "")]

    def tags(self) -> dict[str, str]:
        raw = self.body.get("tags") or []
        if not isinstance(raw, list):
            raise protocol.invalid("tags must be a list of {key, value} objects.")
        out: dict[str, str] = {}
        for item in raw:
            if not isinstance(item, dict) or not item.get("key"):
                raise protocol.invalid("Each tag needs a key (and a value).")
            out[str(item["key"])] = "" if item.get("value") is None else str(item["value"])
        return out


class Endpoint(APIView):
    """One MLflow endpoint; `handlers` maps an HTTP method to a function(request, params)."""

    handlers: dict[str, Handler] = {}
    authentication_classes = [TokenAuthentication, BasicAuth, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    def _run(self, request) -> Response:
        handler = self.handlers.get(request.method)
        if handler is None:
            raise MlflowError(protocol.ENDPOINT_NOT_FOUND, f"{request.method} is not served on {request.path}.")
        if request.method != "GET" and handler not in READ_HANDLERS:
            # The role decides before the input is read: an auditor's write is a 403 whatever
            # its body, never a 400 about a parameter it had no right to send.
            refusal = perms.explain_cannot_write(request.user)
            if refusal:
                raise MlflowError(protocol.PERMISSION_DENIED, refusal)
        return Response(handler(request, Params(request)))

    get = post = patch = delete = _run

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise MlflowError(protocol.ENDPOINT_NOT_FOUND, f"{request.method} is not served on {request.path}.")

    def handle_exception(self, exc):
        if isinstance(exc, DomainError):
            exc = protocol.from_domain_error(exc)
        elif isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
            response = Response(
                {"error_code": protocol.UNAUTHENTICATED,
                 "message": f"{exc.detail} Set MLFLOW_TRACKING_TOKEN to a Gatehouse API token "
                            "(or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)."},
                status=401,
            )
            response["WWW-Authenticate"] = 'Basic realm="gatehouse"'
            return response
        elif isinstance(exc, drf_exceptions.PermissionDenied):
            exc = MlflowError(protocol.PERMISSION_DENIED, str(exc.detail))
        elif isinstance(exc, drf_exceptions.ParseError):
            exc = protocol.invalid(f"The request body is not valid JSON: {exc.detail}")
        elif isinstance(exc, drf_exceptions.APIException):
            exc = MlflowError(protocol.INVALID_PARAMETER_VALUE, str(exc.detail))
        if isinstance(exc, MlflowError):
            return Response({"error_code": exc.error_code, "message": exc.message}, status=exc.status)
        return super().handle_exception(exc)


def endpoint(**handlers: Handler):
    return Endpoint.as_view(handlers={m.upper(): h for m, h in handlers.items()})


def not_found(request, path: str = ""):
    """Anything else under the MLflow prefix: MLflow's ENDPOINT_NOT_FOUND, as JSON."""
    return endpoint()(request)


# --- registered models ----------------------------------------------------------------------


def _model_out(request, name: str) -> dict:
    return {"registered_model": selectors.render_models([selectors.model_get(request.user, name)])[0]}


def model_create(request, p: Params) -> dict:
    model = services.model_create(
        actor=request.user, name=p.str("name", required=True), description=p.str("description"),
        tags=p.tags(),
    )
    return _model_out(request, model.name)


def model_get(request, p: Params) -> dict:
    return _model_out(request, p.str("name", required=True))


def model_rename(request, p: Params) -> dict:
    model = selectors.model_get(request.user, p.str("name", required=True))
    model = services.model_rename(actor=request.user, model=model, new_name=p.str("new_name", required=True))
    return _model_out(request, model.name)


def model_update(request, p: Params) -> dict:
    model = selectors.model_get(request.user, p.str("name", required=True))
    if "description" in p.body or "description" in p.query:
        services.model_describe(actor=request.user, model=model, description=p.str("description"))
    return _model_out(request, model.name)


def model_delete(request, p: Params) -> dict:
    services.model_delete(actor=request.user, model=selectors.model_get(request.user, p.str("name", required=True)))
    return {}


def model_search(request, p: Params) -> dict:
    models, token = selectors.model_search(
        request.user, filter_string=p.str("filter"), max_results=p.int("max_results", 100),
        order_by=p.list("order_by"), page_token=p.str("page_token"),
    )
    out: dict[str, Any] = {"registered_models": models}
    if token:
        out["next_page_token"] = token
    return out


def latest_versions(request, p: Params) -> dict:
    model = selectors.model_get(request.user, p.str("name", required=True))
    stages = [protocol.gatehouse_stage(s) for s in p.list("stages")]
    return {"model_versions": selectors.latest_versions([model], stages or None)[model.pk]}


def model_set_tag(request, p: Params) -> dict:
    model = selectors.model_get(request.user, p.str("name", required=True))
    services.model_tags_set(actor=request.user, model=model,
                            tags={p.str("key", required=True): p.str("value")})
    return {}


def model_delete_tag(request, p: Params) -> dict:
    model = selectors.model_get(request.user, p.str("name", required=True))
    services.model_tag_delete(actor=request.user, model=model, key=p.str("key", required=True))
    return {}


def alias_set(request, p: Params) -> dict:
    name = p.str("name", required=True)
    model = selectors.model_get(request.user, name)
    version = selectors.version_get(request.user, name, p.str("version", required=True))
    services.alias_set(actor=request.user, model=model, alias=p.str("alias", required=True), version=version)
    return {}


def alias_delete(request, p: Params) -> dict:
    model = selectors.model_get(request.user, p.str("name", required=True))
    services.alias_delete(actor=request.user, model=model, alias=p.str("alias", required=True))
    return {}


def alias_get(request, p: Params) -> dict:
    version = selectors.version_by_alias(request.user, p.str("name", required=True), p.str("alias", required=True))
    return {"model_version": selectors.render_version(version)}


# --- model versions ---------------------------------------------------------------------------


def _version(request, p: Params):
    return selectors.version_get(request.user, p.str("name", required=True), p.str("version", required=True))


def _version_out(request, name: str, number: int) -> dict:
    return {"model_version": selectors.render_version(selectors.version_get(request.user, name, number))}


def version_create(request, p: Params) -> dict:
    model = selectors.model_for_write(request.user, p.str("name", required=True))
    version = services.version_create(
        actor=request.user, model=model, source=p.str("source", required=True),
        run_id=p.str("run_id"), run_link=p.str("run_link"), description=p.str("description"),
        tags=p.tags(),
    )
    return {"model_version": selectors.render_new_version(version)}


def version_get(request, p: Params) -> dict:
    return {"model_version": selectors.render_version(_version(request, p))}


def version_update(request, p: Params) -> dict:
    version = _version(request, p)
    if "description" in p.body or "description" in p.query:
        services.version_describe(actor=request.user, version=version, description=p.str("description"))
    return _version_out(request, version.model.name, version.version)


def version_delete(request, p: Params) -> dict:
    services.version_delete(actor=request.user, version=_version(request, p))
    return {}


def version_transition(request, p: Params) -> dict:
    version = _version(request, p)
    services.version_transition(actor=request.user, version=version, mlflow_stage=p.str("stage", required=True))
    return _version_out(request, version.model.name, version.version)


def version_search(request, p: Params) -> dict:
    versions, token = selectors.version_search(
        request.user, filter_string=p.str("filter"), max_results=p.int("max_results", 10_000),
        order_by=p.list("order_by"), page_token=p.str("page_token"),
    )
    out: dict[str, Any] = {"model_versions": versions}
    if token:
        out["next_page_token"] = token
    return out


def version_download_uri(request, p: Params) -> dict:
    version = _version(request, p)
    return {"artifact_uri": (version.provenance or {}).get("source") or version.artifact_uri}


def version_set_tag(request, p: Params) -> dict:
    services.version_tags_set(actor=request.user, version=_version(request, p),
                              tags={p.str("key", required=True): p.str("value")})
    return {}


def version_delete_tag(request, p: Params) -> dict:
    services.version_tag_delete(actor=request.user, version=_version(request, p), key=p.str("key", required=True))
    return {}


#: Handlers served on POST that only read (MLflow's client posts get-latest-versions).
READ_HANDLERS = frozenset({latest_versions})
