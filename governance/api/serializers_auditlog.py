"""Response shapes of the Merkle audit log API (documentation for the schema; the views render
plain dicts built by governance.auditlog.proofs)."""

from __future__ import annotations

from rest_framework import serializers


class CheckpointOutput(serializers.Serializer):
    number = serializers.IntegerField()
    tree_size = serializers.IntegerField(help_text="Events at positions 1..tree_size.")
    root_hash = serializers.CharField(help_text="RFC 6962 tree head, hex.")
    timestamp = serializers.CharField()
    key_id = serializers.CharField(help_text="sha256 of the raw Ed25519 public key, hex.")
    signature = serializers.CharField(help_text="Base64 Ed25519 signature over signed_note.")
    origin = serializers.CharField()
    aborted_positions = serializers.IntegerField(
        help_text="Rolled-back positions this checkpoint recorded as aborted.")
    signed_note = serializers.CharField(
        help_text="origin, tree_size, root_hash, timestamp: one per line, newline-terminated.")


class InclusionProofOutput(serializers.Serializer):
    position = serializers.IntegerField()
    leaf_index = serializers.IntegerField(help_text="position - 1")
    tree_size = serializers.IntegerField()
    root_hash = serializers.CharField()
    event = serializers.CharField(help_text="The event's canonical JSON (what the leaf hashes).")
    leaf_hash = serializers.CharField(help_text="SHA-256(0x00 || event), hex.")
    audit_path = serializers.ListField(child=serializers.CharField())
    checkpoint = CheckpointOutput(allow_null=True)


class ConsistencyProofOutput(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    first_root = serializers.CharField()
    second_root = serializers.CharField()
    proof = serializers.ListField(child=serializers.CharField())
    first_checkpoint = CheckpointOutput(allow_null=True)
    second_checkpoint = CheckpointOutput(allow_null=True)


class PublicKeyOutput(serializers.Serializer):
    algorithm = serializers.CharField()
    key_id = serializers.CharField()
    public_key_pem = serializers.CharField()
    public_key = serializers.CharField(help_text="Base64 of the raw 32-byte key.")
    origin = serializers.CharField()
