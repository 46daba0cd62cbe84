"""Base pieces for API views.

Every API view is a plain DRF view: authentication and permission come from REST_FRAMEWORK's
defaults in config/settings.py (signed in; auditors read-only, governance.api_permissions), so a
new endpoint cannot forget them. A view that needs a different rule says so in its own class.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping

from django.conf import settings
from django.core.validators import MaxLengthValidator
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from common.errors import PayloadTooLarge


def check_content_length(request, limit: int) -> None:
    """Refuse an oversized upload before reading its body."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit + 1024 * 1024:  # headroom for the multipart envelope and JSON fields
        raise PayloadTooLarge(
            f"The upload is larger than the limit of {limit} bytes (MAX_ARTIFACT_BYTES)."
        )


class InputSerializer(serializers.Serializer):
    """Base of every API input serializer (`...Input`). Two rules, so no endpoint forgets them:

    - An unknown field is refused (400 naming it and listing the accepted ones): a misspelt
      `training_data` must not register a version that silently lacks its lineage.
    - Text has a length cap: a CharField declared without `max_length` gets API_TEXT_MAX_LENGTH,
      and a JSON value is capped at API_JSON_MAX_BYTES once encoded.

    `extra_known_fields` names fields a view passes on to a service that refuses them with its
    own rule (a version's immutable fields), so they are not reported as unknown.
    """

    extra_known_fields: tuple[str, ...] = ()

    def get_fields(self):
        """The declared fields with the two caps, built once per class and copied per instance.

        DRF deep-copies every declared field for every serializer instance (each copy re-runs the
        field's ``__init__``): a third of a registration's Python time went there. Fields keep
        no state of a request on themselves (``bind`` sets only names and the parent), so a
        shallow copy of a prototype, bound to this instance, behaves the same; a field holding a
        mutable default or a nested serializer is still deep-copied. The prototypes are keyed by
        the API_TEXT_MAX_LENGTH they were capped with, so a changed setting (tests) applies.
        """
        key = settings.API_TEXT_MAX_LENGTH
        cached = type(self).__dict__.get("_field_prototypes")
        if cached is None or cached[0] != key:
            cached = (key, self._capped(super().get_fields()))
            type(self)._field_prototypes = cached
        return {name: _copy_field(field) for name, field in cached[1].items()}

    @staticmethod
    def _capped(fields):
        for name, field in fields.items():
            if field.read_only:
                continue
            if isinstance(field, serializers.CharField) and field.max_length is None:
                field.max_length = settings.API_TEXT_MAX_LENGTH
                message = field.error_messages["max_length"].format(max_length=field.max_length)
                field.validators.append(MaxLengthValidator(field.max_length, message=message))
            elif isinstance(field, serializers.JSONField):
                field.validators.append(_json_size_cap(name))
        return fields

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            accepted = [n for n, f in self.fields.items() if not f.read_only]
            known = {*accepted, *self.extra_known_fields, *_IGNORED_FORM_FIELDS}
            unknown = sorted(str(k) for k in data if k not in known)
            if unknown:
                listed = ", ".join(sorted(accepted)) or "none (send an empty body)"
                raise serializers.ValidationError(
                    {
                        name: [f"Unknown field {name!r}; the accepted fields are: {listed}."]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


def _copy_field(field: serializers.Field) -> serializers.Field:
    """A copy of a prototype field for one serializer instance (see InputSerializer.get_fields)."""
    if isinstance(field, serializers.BaseSerializer) or isinstance(
        field.default, (list, dict, set)
    ):
        return copy.deepcopy(field)
    clone = copy.copy(field)
    child = getattr(field, "child", None)
    if child is not None:  # ListField / DictField: the child's parent must be the copy
        clone.child = _copy_field(child)
        clone.child.parent = clone  # already bound (field name "") when the prototype was made
    return clone


#: Sent by browsers' HTML forms (and DRF's browsable API) alongside the real fields.
_IGNORED_FORM_FIELDS = ("csrfmiddlewaretoken",)


def _json_size_cap(field_name: str):
    def check(value) -> None:
        limit = settings.API_JSON_MAX_BYTES
        size = len(json.dumps(value, separators=(",", ":"), default=str).encode())
        if size > limit:
            raise serializers.ValidationError(
                f"Ensure this value is no larger than {limit} bytes as JSON (it is {size})."
            )

    return check


class ExportView(APIView):
    """`?format=` names a file format here (html, pdf, csv …), not a DRF renderer: skip DRF's
    format override and answer errors as JSON."""

    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type
