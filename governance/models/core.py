"""People, teams, roles, API tokens and the audit trail (events; checkpoints in auditlog.py)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from governance.choices import Role


class Team(models.Model):
    """A group of people that owns models and datasets; edits are limited to its members."""

    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A Gatehouse user: belongs to teams and holds one or more roles (RoleGrant rows)."""

    teams = models.ManyToManyField(Team, related_name="members", blank=True)
    timezone = models.CharField(max_length=64, default="UTC", blank=True)

    @property
    def role_names(self) -> frozenset[str]:
        cached = getattr(self, "_role_cache", None)
        if cached is None:
            if not self.pk:
                return frozenset()
            cached = frozenset(self.role_grants.values_list("role", flat=True))
            self._role_cache = cached
        return cached

    def has_role(self, role: str) -> bool:
        return role in self.role_names

    def remember_access(self, roles: list[str], team_ids: list[int]) -> None:
        """Set the roles and teams read along with this user (one query at sign-in by token)."""
        self._role_cache = frozenset(roles)
        self._team_cache = frozenset(team_ids)

    @property
    def team_ids(self) -> frozenset[int]:
        cached = getattr(self, "_team_cache", None)
        if cached is None:
            if not self.pk:
                return frozenset()
            cached = frozenset(self.teams.values_list("id", flat=True))
            self._team_cache = cached
        return cached


class RoleGrant(models.Model):
    """One role held by one user; a user may hold several."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=32, choices=Role.choices)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="rolegrant_unique")]

    def __str__(self) -> str:
        return f"{self.user.username}:{self.role}"


class ApiToken(models.Model):
    """An API token. Only the sha256 of the key is stored; the key is shown once at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user.username})"


class AuditEvent(models.Model):
    """An append-only record of one state change, at one position of the Merkle audit log.

    `seq` is the position (1, 2, ... from a database sequence; see governance.audit.record) and
    `body` the event's canonical JSON, which the sealer hashes into the tree as a leaf. Events
    written before the Merkle log also carry the old per-row chain (`prev_hash`, `hash` =
    sha256(body + prev_hash)), kept as history. The database refuses UPDATE, DELETE and TRUNCATE
    by trigger (see migrations), and the model refuses them in code.
    """

    seq = models.BigIntegerField(unique=True, help_text="Position in the audit log.")
    body = models.TextField(editable=False, help_text="Canonical JSON hashed into the log.")
    timestamp = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    actor_roles = models.JSONField(default=list, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    model_name = models.CharField(max_length=100, blank=True, db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    hash = models.CharField(max_length=64, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("Audit events are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit events are append-only and cannot be deleted.")
