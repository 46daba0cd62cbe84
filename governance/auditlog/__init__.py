"""The Merkle audit log (a transparency log in the manner of Certificate Transparency).

- merkle.py: RFC 6962 hashing and proofs over stored subtree hashes (pure).
- signing.py: the Ed25519 key, checkpoint notes, DSSE envelopes.
- store.py: the stored tiles as a node source; checkpoints read back.
- sealer.py: seals the contiguous committed prefix into a signed checkpoint; aborted positions.
- verify.py: the full verification (recompute the tree, compare with every checkpoint).
- proofs.py: inclusion and consistency proofs for the API.

Events themselves are written by governance.audit.record (one INSERT, no shared lock).
"""
