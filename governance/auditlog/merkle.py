"""RFC 6962 (Certificate Transparency) Merkle tree hashing and proofs, over a node source.

Leaves are indexed from 0 (leaf i is the event at position i + 1). MTH, PATH and PROOF follow
RFC 6962 section 2.1 exactly, so any CT-style verifier checks what this module produces.

Hashes are computed from a `NodeSource`: something that returns the hashes of perfect subtrees
at a few stored heights (0 = leaves, 8, 16, ...: see STORED_EVERY). Any other perfect subtree is
hashed from at most 2**7 stored nodes below it, so a proof at a million leaves needs a handful of
reads and about a thousand hash operations, never the whole tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

#: Perfect subtree hashes are stored at heights 0, 8, 16, ... (one row per 256-aligned run).
STORED_EVERY = 8
TILE = 1 << STORED_EVERY

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def fold(nodes: Sequence[bytes]) -> bytes:
    """The root of a perfect subtree given its 2**k nodes at one height."""
    level = list(nodes)
    while len(level) > 1:
        level = [_sha256(b"\x01" + level[i] + level[i + 1]).digest()
                 for i in range(0, len(level), 2)]
    return level[0]


class NodeSource(Protocol):
    def nodes(self, height: int, start: int, end: int) -> list[bytes]:
        """Hashes of the perfect subtrees at `height` (a multiple of STORED_EVERY) with indices
        start..end-1; all of them exist (they lie inside a sealed tree)."""


def perfect(src: NodeSource, height: int, index: int) -> bytes:
    """Hash of the perfect subtree of 2**height leaves starting at leaf index * 2**height.
    A source with a `memo` dict keeps each one it computed: the ragged right edge of a tree is
    asked for again by every proof step and by the root."""
    memo = getattr(src, "memo", None)
    if memo is not None:
        hit = memo.get((height, index))
        if hit is not None:
            return hit
    base = height - height % STORED_EVERY
    span = height - base
    node = fold(src.nodes(base, index << span, (index + 1) << span))
    if memo is not None:
        memo[(height, index)] = node
    return node


def _largest_power_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def mth(src: NodeSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range that RFC 6962's recursion produces (start is a multiple of
    the largest power of two not above end - start, or the range is the whole tree)."""
    n = end - start
    if n <= 0:
        return _sha256(b"").digest()
    if n & (n - 1) == 0 and start % n == 0:
        return perfect(src, n.bit_length() - 1, start // n)
    k = _largest_power_below(n)
    return node_hash(mth(src, start, start + k), mth(src, start + k, end))


def root(src: NodeSource, size: int) -> bytes:
    return mth(src, 0, size)


def inclusion_proof(src: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]): the audit path of leaf `index` in the tree of `size` leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _largest_power_below(end - start)
        if m < k:
            path.append(mth(src, start + k, end))
            end = start + k
        else:
            path.append(mth(src, start, start + k))
            start, m = start + k, m - k
    path.reverse()  # RFC 6962 lists the path leaf-first
    return path


def consistency_proof(src: NodeSource, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 6962 section 2.1.2."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    proof: list[bytes] = []

    def subproof(m: int, start: int, end: int, whole: bool) -> None:
        n = end - start
        if m == n:
            if not whole:
                proof.append(mth(src, start, end))
            return
        k = _largest_power_below(n)
        if m <= k:
            subproof(m, start, start + k, whole)
            proof.append(mth(src, start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            proof.append(mth(src, start, start + k))

    if first < second:
        subproof(first, 0, second, True)
    return proof


# --- verification (also in tools/gatehouse_verify.py, which must not import Gatehouse) ----------


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root implied by a leaf and its audit path."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ValueError("audit path is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("audit path is too short")
    return r


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if first == second:
        return first_root == second_root and not proof
    if not 0 < first < second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first root is the proof's first node
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


class ListSource:
    """A NodeSource over all leaf hashes in memory (tests, the verifier of a whole export)."""

    def __init__(self, leaves: Sequence[bytes]):
        self.levels: dict[int, list[bytes]] = {0: list(leaves)}
        self.memo: dict[tuple[int, int], bytes] = {}

    def _level(self, height: int) -> list[bytes]:
        if height not in self.levels:
            below = self._level(height - STORED_EVERY)
            self.levels[height] = [fold(below[i:i + TILE])
                                   for i in range(0, len(below) - TILE + 1, TILE)]
        return self.levels[height]

    def nodes(self, height: int, start: int, end: int) -> list[bytes]:
        return self._level(height)[start:end]


class CompactRange:
    """The perfect subtrees covering leaves [0, size): append leaves one by one, read the root
    at any size (RFC 6962's MTH is the right-to-left fold of this stack). `on_stored(height,
    index, hash)` is called for every completed node at a stored height (0, 8, 16, ...)."""

    def __init__(self, size: int = 0, stack: list[tuple[int, bytes]] | None = None,
                 on_stored=None, on_run=None):
        self.size = size
        self.stack = stack or []
        self.on_stored = on_stored
        self.on_run = on_run

    @classmethod
    def at(cls, src: NodeSource, size: int, on_stored=None) -> CompactRange:
        """The compact range of a tree already stored in `src`."""
        stack, start = [], 0
        for height in range(size.bit_length() - 1, -1, -1):
            if size >> height & 1:
                stack.append((height, perfect(src, height, start >> height)))
                start += 1 << height
        return cls(size, stack, on_stored)

    def append(self, leaf: bytes) -> None:
        stack, on_stored, sha = self.stack, self.on_stored, _sha256
        if on_stored is not None:
            on_stored(0, self.size, leaf)
        height, node = 0, leaf
        while stack and stack[-1][0] == height:
            node = sha(b"\x01" + stack.pop()[1] + node).digest()
            height += 1
            if on_stored is not None and height % STORED_EVERY == 0:
                on_stored(height, ((self.size + 1) >> height) - 1, node)
        stack.append((height, node))
        self.size += 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        """append() for many leaves; the leaves themselves are reported as one run
        (`on_run(0, first_index, leaves)`) instead of one call each (the sealer's hot loop)."""
        stack, on_stored, sha = self.stack, self.on_stored, _sha256
        on_run = self.on_run
        if on_run is not None:
            on_run(0, self.size, leaves)
        elif on_stored is not None:
            for i, leaf in enumerate(leaves):
                on_stored(0, self.size + i, leaf)
        size = self.size
        for leaf in leaves:
            height, node = 0, leaf
            while stack and stack[-1][0] == height:
                node = sha(b"\x01" + stack.pop()[1] + node).digest()
                height += 1
                if on_stored is not None and height % STORED_EVERY == 0:
                    on_stored(height, ((size + 1) >> height) - 1, node)
            stack.append((height, node))
            size += 1
        self.size = size

    def root(self) -> bytes:
        if not self.stack:
            return _sha256(b"").digest()
        r = self.stack[-1][1]
        for _, node in reversed(self.stack[:-1]):
            r = node_hash(node, r)
        return r
