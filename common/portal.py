"""Helpers for the portal's HTML views: sign-in required, domain errors rendered as pages.

Views stay thin: they parse, call one service or selector, and render. A service's refusal
(`Forbidden`) becomes a 403 page carrying the rule's sentence; `NotFound` a 404 page.
"""

from __future__ import annotations

import functools
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


def form_errors_from(form, exc: DomainError) -> None:
    """Put a service's refusal on the form: field errors next to their fields, errors of
    fields the form does not have at the top, and the sentence there when no field is named."""
    errors = exc.errors or {}
    for field, errs in errors.items():
        messages = errs if isinstance(errs, (list, tuple)) else [errs]
        form.add_error(field if field in form.fields else None, " ".join(str(m) for m in messages))
    if not errors:
        form.add_error(None, exc.detail)
