"""Base pieces for API views."""

from __future__ import annotations

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
