#!/usr/bin/env python3
"""Check Gatehouse's audit log and release attestations without trusting Gatehouse.

Needs only the Python standard library and `cryptography`; imports nothing of Gatehouse. Every
input is a JSON file saved from the API, or the API URL itself (fetched with the token in
GATEHOUSE_TOKEN). Pin the public key: save /api/v1/audit/public-key/ once and pass the file.

    python tools/gatehouse_verify.py checkpoint  --key key.json --checkpoint latest.json
    python tools/gatehouse_verify.py inclusion   --key key.json --checkpoint latest.json \
        --proof proof.json                       # GET /api/v1/audit/events/{position}/proof/
    python tools/gatehouse_verify.py consistency --key key.json --old saved.json \
        --new latest.json --proof consistency.json  # GET /api/v1/audit/consistency/?first&second
    python tools/gatehouse_verify.py attestation --key key.json --envelope attestation.json \
        [--artifact model.skops | --sha256 HEX] [--proof proof.json --checkpoint latest.json]

Exit status 0 when everything checks out, 1 when something does not (the reason is printed),
2 for unusable input. Formats: RFC 6962/9162 Merkle trees (leaf = SHA-256(0x00 || canonical
event JSON), node = SHA-256(0x01 || left || right)); checkpoints are Ed25519 signatures over
"origin\\ntree_size\\nroot_hash\\ntimestamp\\n"; attestations are in-toto Statements in DSSE
envelopes signed with the same key.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import urllib.request
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ORIGIN = "gatehouse.dev/audit/v1"
PREDICATE_TYPE = "https://gatehouse.dev/promotion/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"


class Failed(Exception):
    """The evidence does not check out."""


class BadInput(Exception):
    """The input cannot be used (missing file, not JSON, wrong shape)."""


def load(source: str) -> dict:
    try:
        if source.startswith(("http://", "https://")):
            req = urllib.request.Request(source, headers={"Accept": "application/json"})
            token = os.environ.get("GATEHOUSE_TOKEN")
            if token:
                req.add_header("Authorization", f"Token {token}")
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - user's URL
                return json.load(resp)
        return json.loads(Path(source).read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read {source}: {exc}") from exc


def public_key(source: str) -> tuple[Ed25519PublicKey, str]:
    """A key as the API publishes it (JSON with public_key_pem), or a PEM file."""
    if source.endswith(".pem") and Path(source).is_file():
        pem = Path(source).read_bytes()
    else:
        pem = load(source).get("public_key_pem", "").encode()
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise BadInput(f"{source} holds no PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BadInput(f"{source} is not an Ed25519 key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, hashlib.sha256(raw).hexdigest()


def _sig_ok(key: Ed25519PublicKey, signature_b64: str, data: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature_b64, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- RFC 6962 / 9162 -----------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    if not 0 <= index < size:
        raise Failed(f"leaf index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise Failed("the audit path is longer than the tree allows")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Failed("the audit path is shorter than the tree needs")
    return r


def consistent(first: int, second: int, first_root: bytes, second_root: bytes,
               proof: list[bytes]) -> bool:
    if first == second:
        return first_root == second_root and not proof
    if not 0 < first < second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


def _hex(value: str, what: str) -> bytes:
    try:
        out = bytes.fromhex(value)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"{what} is not hex") from exc
    if len(out) != 32:
        raise BadInput(f"{what} is not a 32-byte hash")
    return out


# --- checks --------------------------------------------------------------------------------------


def check_checkpoint(cp: dict, key: Ed25519PublicKey, key_id: str) -> str:
    try:
        size, root, ts = int(cp["tree_size"]), cp["root_hash"], cp["timestamp"]
        signature = cp["signature"]
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"not a checkpoint: {exc}") from exc
    _hex(root, "root_hash")
    if cp.get("key_id") not in (None, key_id):
        raise Failed(f"checkpoint {cp.get('number')} names key {cp['key_id']}, not the pinned "
                     f"key {key_id}")
    note = f"{ORIGIN}\n{size}\n{root}\n{ts}\n".encode()
    if not _sig_ok(key, signature, note):
        raise Failed(f"checkpoint {cp.get('number')} (size {size}): the signature does not "
                     "verify with the pinned key")
    return f"checkpoint {cp.get('number')}: {size} events, root {root}, signed {ts}: OK"


def check_inclusion(proof: dict, cp: dict, key: Ed25519PublicKey, key_id: str) -> str:
    check_checkpoint(cp, key, key_id)
    try:
        event, size, index = proof["event"], int(proof["tree_size"]), int(proof["leaf_index"])
        path = [_hex(h, "audit_path entry") for h in proof["audit_path"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"not an inclusion proof: {exc}") from exc
    if size != int(cp["tree_size"]):
        raise BadInput(f"the proof is for a tree of {size} events, the checkpoint has "
                       f"{cp['tree_size']}: ask for ?tree_size={cp['tree_size']}")
    parsed = json.loads(event)
    canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if canonical != event:
        raise Failed("the event is not in canonical JSON form")
    if parsed.get("seq") != index + 1:
        raise Failed(f"the event says position {parsed.get('seq')}, the proof {index + 1}")
    leaf = leaf_hash(event.encode())
    if root_from_inclusion(index, size, leaf, path) != _hex(cp["root_hash"], "root_hash"):
        raise Failed(f"event #{index + 1} is not in the signed tree of {size} events: its "
                     "content or the proof differs from what was sealed")
    return (f"event #{index + 1} ({parsed.get('action')}) is in checkpoint {cp.get('number')} "
            f"({size} events): OK")


def check_consistency(old: dict, new: dict, proof: dict, key: Ed25519PublicKey,
                      key_id: str) -> str:
    check_checkpoint(old, key, key_id)
    check_checkpoint(new, key, key_id)
    first, second = int(old["tree_size"]), int(new["tree_size"])
    if (int(proof.get("first", -1)), int(proof.get("second", -1))) != (first, second):
        raise BadInput(f"the proof is for {proof.get('first')}→{proof.get('second')}, the "
                       f"checkpoints are {first}→{second}")
    nodes = [_hex(h, "proof entry") for h in proof.get("proof", [])]
    if not consistent(first, second, _hex(old["root_hash"], "old root"),
                      _hex(new["root_hash"], "new root"), nodes):
        raise Failed(f"the log of {second} events does not extend the saved log of {first}: "
                     "history was rewritten")
    return f"checkpoint of {second} events extends the saved one of {first}: OK"


def check_attestation(envelope: dict, key: Ed25519PublicKey, key_id: str, *,
                      sha256: str | None = None) -> tuple[str, dict]:
    env = envelope.get("envelope", envelope)
    try:
        payload_type, payload = env["payloadType"], base64.b64decode(env["payload"])
        signatures = env["signatures"]
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"not a DSSE envelope: {exc}") from exc
    t = payload_type.encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)
    if not any(s.get("keyid") in (None, "", key_id) and _sig_ok(key, s.get("sig", ""), pae)
               for s in signatures):
        raise Failed("no signature on the envelope verifies with the pinned key")
    statement = json.loads(payload)
    if statement.get("_type") != STATEMENT_TYPE or statement.get("predicateType") != PREDICATE_TYPE:
        raise Failed("the envelope does not hold a Gatehouse promotion statement")
    digests = [s.get("digest", {}).get("sha256") for s in statement.get("subject", [])]
    if sha256 is not None and sha256 not in digests:
        raise Failed(f"the attestation is about {digests}, not the artifact {sha256}")
    pred = statement.get("predicate", {})
    return (f"attestation: {pred.get('model')} v{pred.get('version')} → "
            f"{pred.get('target_stage')}, artifact {', '.join(map(str, digests))}, "
            f"{len(pred.get('approvals', []))} approvals: signature OK"), statement


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("checkpoint", help="check a checkpoint's signature")
    p.add_argument("--checkpoint", required=True)
    p = sub.add_parser("inclusion", help="check that an event is in a signed checkpoint")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--proof", required=True)
    p = sub.add_parser("consistency", help="check a newer checkpoint extends a saved one")
    p.add_argument("--old", required=True)
    p.add_argument("--new", required=True)
    p.add_argument("--proof", required=True)
    p = sub.add_parser("attestation", help="check a release attestation (DSSE envelope)")
    p.add_argument("--envelope", required=True)
    p.add_argument("--artifact", help="the artifact file; its sha256 must be the subject")
    p.add_argument("--sha256", help="the artifact's sha256 (instead of --artifact)")
    p.add_argument("--proof", help="inclusion proof of the attestation's audit event")
    p.add_argument("--checkpoint", help="checkpoint the --proof is against")
    for p in sub.choices.values():
        p.add_argument("--key", required=True, help="the pinned public key (JSON or PEM)")
    args = parser.parse_args(argv)
    try:
        key, key_id = public_key(args.key)
        if args.what == "checkpoint":
            print(check_checkpoint(load(args.checkpoint), key, key_id))
        elif args.what == "inclusion":
            print(check_inclusion(load(args.proof), load(args.checkpoint), key, key_id))
        elif args.what == "consistency":
            print(check_consistency(load(args.old), load(args.new), load(args.proof), key,
                                    key_id))
        else:
            digest = args.sha256
            if args.artifact:
                digest = hashlib.sha256(Path(args.artifact).read_bytes()).hexdigest()
            message, statement = check_attestation(load(args.envelope), key, key_id,
                                                   sha256=digest)
            print(message)
            if args.proof:
                if not args.checkpoint:
                    raise BadInput("--proof needs --checkpoint")
                proof = load(args.proof)
                wanted = statement.get("predicate", {}).get("audit", {}).get("event_position")
                if wanted is not None and int(proof.get("position", -1)) != int(wanted):
                    raise Failed(f"the proof is for event #{proof.get('position')}, the "
                                 f"attestation was recorded at #{wanted}")
                print(check_inclusion(proof, load(args.checkpoint), key, key_id))
    except Failed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except (BadInput, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
