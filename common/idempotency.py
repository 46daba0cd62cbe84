"""Idempotency-Key support for POST endpoints: a retry with the same key and body replays the
first response and creates nothing new; the same key with another body is a 422."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from rest_framework.response import Response

from common.errors import Conflict, Unprocessable
from common.models import IdempotencyRecord


def _canonical(value: Any) -> Any:
    if isinstance(value, UploadedFile):
        if getattr(value, "sha256", None):  # hashed while it streamed in (common.uploads)
            return {"file": value.name, "sha256": value.sha256}
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)
        return {"file": value.name, "sha256": digest.hexdigest()}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def request_fingerprint(request) -> str:
    data = request.data
    if hasattr(data, "lists"):  # QueryDict from a multipart form
        data = {k: v if len(v) > 1 else v[0] for k, v in data.lists()}
    payload = {"method": request.method, "path": request.path, "data": _canonical(data)}
    encoded = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def idempotent(view: Callable) -> Callable:
    """Decorate a DRF view method (self, request, ...) that creates something."""

    @functools.wraps(view)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or not request.user.is_authenticated:
            return view(self, request, *args, **kwargs)
        if len(key) > 255:
            raise Unprocessable("Idempotency-Key is longer than 255 characters.")
        fingerprint = request_fingerprint(request)
        try:
            # A committed placeholder row claims the key before any work is done.
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=request.user, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.get(user=request.user, key=key)
            if existing.fingerprint != fingerprint:
                raise Unprocessable(
                    "This Idempotency-Key was already used with a different request body; "
                    "use a new key for a new request.",
                    code="idempotency_key_reused",
                ) from None
            if existing.status_code is None:
                raise Conflict(
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                    code="idempotency_in_progress",
                ) from None
            replay = Response(existing.response_body, status=existing.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = view(self, request, *args, **kwargs)
        except BaseException:
            record.delete()
            raise
        if 200 <= response.status_code < 300:
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status_code=response.status_code,
                response_body=json.loads(json.dumps(response.data, default=str)),
            )
        else:
            record.delete()
        return response

    return wrapper
