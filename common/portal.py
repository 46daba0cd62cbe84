"""Helpers for the portal's HTML views: sign-in required, domain errors rendered as pages.

Views stay thin: they parse, call one service or selector, and render. A service's refusal
(`Forbidden`) becomes a 403 page carrying the rule's sentence; `NotFound` a 404 page.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from common.errors import DomainError

PAGE_SIZE = 50


def error_page(request: HttpRequest, exc: DomainError) -> HttpResponse:
    titles = {403: "You may not do this", 404: "Not found", 409: "Conflict",
              413: "Too large"}
    return render(
        request,
        "portal/error.html",
        {"title": titles.get(exc.status_code, "That did not work"), "detail": exc.detail},
        status=exc.status_code,
    )


def portal_view(view: Callable) -> Callable:
    """Sign-in required; a DomainError raised below (Forbidden, NotFound, Conflict, a
    ValidationFailed no form caught …) becomes a page with its sentence and status."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            return error_page(request, exc)

    return login_required(wrapper)


def paginate(request: HttpRequest, queryset, per_page: int = PAGE_SIZE) -> Page:
    """One page of `queryset` (?page=N); out-of-range pages show the last page."""
    try:
        size = min(max(int(request.GET.get("page_size", per_page)), 1), 200)
    except ValueError:
        size = per_page
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def form_errors_from(form, exc: DomainError, *, prefix: str = "") -> None:
    """Put a service's refusal on the form, in the form's own words: field errors next to their
    fields (a service's `<prefix><field>` is the form's `<field>`, e.g. "params.label_column"),
    errors of fields the form does not have at the top, the sentence there when no field is
    named; internal names in the text read as the fields' labels."""
    errors = exc.errors or {}
    for field, errs in errors.items():
        messages = errs if isinstance(errs, (list, tuple)) else [errs]
        target = field.removeprefix(prefix) if prefix else field
        text = in_form_words(form, " ".join(str(m) for m in messages), prefix)
        form.add_error(target if target in form.fields else None, text)
    if not errors:
        form.add_error(None, in_form_words(form, exc.detail, prefix))


def in_form_words(form, text: str, prefix: str = "") -> str:
    """`text` with the service's names of the form's fields ("params.label_column",
    "label_column") replaced by the fields' labels; other prefixed names lose the prefix."""
    for name, field in form.fields.items():
        label = f"“{field.label or name.replace('_', ' ').capitalize()}”"
        if prefix:
            text = re.sub(rf"(?<![\w.]){re.escape(prefix + name)}\b", label, text)
        if "_" in name:
            text = re.sub(rf"(?<![\w.]){re.escape(name)}\b", label, text)
    if prefix:
        text = re.sub(rf"(?<![\w.]){re.escape(prefix)}(?=\w)", "", text)
    return text
