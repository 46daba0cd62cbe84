"""`{% model_banners %}`: the blocks apps above the registry show on every page of one model
(registered in `registry.views.MODEL_BANNERS`), rendered once from base.html.

The page's model is found in its context: `model`, or the model of the `version`, `finding`,
`document`, `req` (a promotion request), `exception` or `job` the page is about."""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from registry.models import ModelVersion, RegisteredModel

register = template.Library()

_PATHS = (
    ("model",), ("version", "model"), ("finding", "model"), ("document", "version", "model"),
    ("req", "model"), ("exception", "model"), ("job", "model_version", "model"),
)


def page_model(context) -> RegisteredModel | None:
    for path in _PATHS:
        obj = context.get(path[0])
        for attr in path[1:]:
            if obj is None or isinstance(obj, (str, int, dict)):
                obj = None
                break
            obj = getattr(obj, attr, None)
        if isinstance(obj, RegisteredModel):
            return obj
        if len(path) == 1 and isinstance(obj, ModelVersion):
            return obj.model
    return None


@register.simple_tag(takes_context=True)
def model_banners(context) -> str:
    from registry.views import MODEL_BANNERS

    model = page_model(context)
    request = context.get("request")
    if model is None or request is None or not getattr(request.user, "is_authenticated", False):
        return ""
    out = []
    for banner in sorted(MODEL_BANNERS, key=lambda b: b.order):
        ctx = banner.build(request, model)
        if ctx is not None:
            out.append(render_to_string(banner.template, {"b": ctx}, request=request))
    return mark_safe("".join(out))  # noqa: S308 - rendered templates, autoescaped
