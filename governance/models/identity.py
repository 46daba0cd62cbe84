"""Who a person or a pipeline is at the company's identity provider (OpenID Connect)."""

from __future__ import annotations

from django.db import models

from governance.models.core import User


class ExternalIdentity(models.Model):
    """Links an OIDC subject (`iss` + `sub`) to one Gatehouse user. A person's link is made at
    their first single sign-on; a pipeline's (workload identity: the `sub` of its access tokens)
    by an administrator with `manage.py oidc_link`. A subject maps to at most one user."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="external_identities")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="external_identity_unique")
        ]
        verbose_name_plural = "external identities"

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer} -> {self.user.username}"
