"""Shared bits of the governance API views."""

from __future__ import annotations

from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from governance import api_permissions


class GovernanceView(APIView):
    """Token or session authentication; auditors get 403 on every unsafe method."""

    permission_classes = api_permissions.DEFAULT


class ExportView(GovernanceView):
    """`?format=` names a file format here (html, pdf, csv …), not a DRF renderer: skip DRF's
    format override and answer errors as JSON."""

    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type
