"""The Merkle audit log's own tables: signed checkpoints and the stored subtree hashes."""

from __future__ import annotations

from django.db import models


class AuditCheckpoint(models.Model):
    """A signed tree head: the RFC 6962 root of the events at positions 1..tree_size.

    Written only by the sealer (governance.auditlog.sealer), in order, one after the other;
    `signature` is Ed25519 over `governance.auditlog.signing.checkpoint_note(...)`. Append-only:
    the model refuses changes and the database refuses UPDATE, DELETE and TRUNCATE.
    """

    number = models.PositiveIntegerField(unique=True)
    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=100, help_text="Base64 Ed25519 signature.")
    aborted = models.PositiveIntegerField(
        default=0, help_text="Positions this seal recorded as aborted (rolled-back holes).")

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"checkpoint {self.number} (size {self.tree_size})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("Audit checkpoints are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit checkpoints are append-only and cannot be deleted.")


class AuditTreeTile(models.Model):
    """Hashes of consecutive perfect subtrees at one stored height (0 = leaves, 8, 16, ...).

    `hashes` holds 32-byte hashes for nodes start, start+1, ... all inside one 256-aligned
    tile; a seal writes the nodes it completed, so a tile may span several rows, and no row
    ever changes. Proofs read a few rows instead of re-hashing the log (governance.auditlog).
    """

    height = models.PositiveSmallIntegerField()
    start = models.BigIntegerField()
    hashes = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["height", "start"], name="audit_tile_unique")
        ]

    def __str__(self) -> str:
        return f"height {self.height} from {self.start} ({len(self.hashes) // 32} nodes)"
