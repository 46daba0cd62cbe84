"""The stored subtree hashes as a merkle.NodeSource, and writing new ones."""

from __future__ import annotations

from django.db import connection

from governance.auditlog.merkle import STORED_EVERY, TILE
from governance.models import AuditTreeTile

_TABLE = AuditTreeTile._meta.db_table
_SELECT = (f"SELECT start, hashes FROM {_TABLE} "
           "WHERE height = %s AND start >= %s AND start < %s ORDER BY start")


class DbSource:
    """Reads whole 256-node tiles (one query per run of tiles) and keeps them for the request,
    so a proof at a million leaves costs a handful of queries. Plain SQL: the ORM's model
    instances for a few kilobytes of hashes are the measured cost of a proof."""

    def __init__(self) -> None:
        self._tiles: dict[tuple[int, int], bytes] = {}
        self.memo: dict[tuple[int, int], bytes] = {}  # see merkle.perfect

    def _load(self, height: int, first_tile: int, last_tile: int) -> None:
        with connection.cursor() as cur:
            cur.execute(_SELECT, [height, first_tile * TILE, (last_tile + 1) * TILE])
            parts: dict[int, list[bytes]] = {}
            for start, hashes in cur.fetchall():
                parts.setdefault(start // TILE, []).append(bytes(hashes))
        for tile in range(first_tile, last_tile + 1):
            self._tiles[(height, tile)] = b"".join(parts.get(tile, []))

    def prefetch(self, size: int, *indices: int) -> None:
        """Load in one query every tile a proof about leaves `indices` in a tree of `size` can
        touch: at each stored height, the tile holding each leaf's ancestors (all its siblings
        up to 8 levels higher lie in it) and the tile of the tree's right edge."""
        wanted = []
        height = 0
        while (size - 1) >> height:
            for leaf in (*indices, size - 1):
                key = (height, (leaf >> height) // TILE)
                if key not in self._tiles and key not in wanted:
                    wanted.append(key)
            height += STORED_EVERY
        if not wanted:
            return
        where = " OR ".join(["(height = %s AND start >= %s AND start < %s)"] * len(wanted))
        params = [v for h, t in wanted for v in (h, t * TILE, (t + 1) * TILE)]
        parts: dict[tuple[int, int], list[bytes]] = {}
        with connection.cursor() as cur:
            cur.execute(f"SELECT height, start, hashes FROM {_TABLE} WHERE {where} "
                        "ORDER BY height, start", params)
            for h, start, hashes in cur.fetchall():
                parts.setdefault((h, start // TILE), []).append(bytes(hashes))
        for key in wanted:
            self._tiles[key] = b"".join(parts.get(key, []))

    def nodes(self, height: int, start: int, end: int) -> list[bytes]:
        first, last = start // TILE, (end - 1) // TILE
        missing = [t for t in range(first, last + 1) if (height, t) not in self._tiles]
        if missing:
            self._load(height, missing[0], missing[-1])
        out: list[bytes] = []
        for tile in range(first, last + 1):
            data = self._tiles[(height, tile)]
            lo = max(start - tile * TILE, 0)
            hi = min(end - tile * TILE, TILE)
            if len(data) < hi * 32:
                raise LookupError(f"audit tree: node {tile * TILE + hi - 1} at height {height} "
                                  "is not stored (not sealed yet, or the tile rows are damaged)")
            out.extend(data[i * 32:(i + 1) * 32] for i in range(lo, hi))
        return out


class PendingNodes:
    """Nodes a seal completes, per stored height, in index order (consecutive by construction:
    a compact range completes the nodes of each height left to right)."""

    def __init__(self) -> None:
        self.first: dict[int, int] = {}
        self.hashes: dict[int, list[bytes]] = {}

    def add_run(self, height: int, index: int, nodes: list[bytes]) -> None:
        run = self.hashes.get(height)
        if run is None:
            self.first[height], run = index, self.hashes.setdefault(height, [])
        run.extend(nodes)

    def add(self, height: int, index: int, node: bytes) -> None:
        run = self.hashes.get(height)
        if run is None:
            self.first[height], run = index, self.hashes.setdefault(height, [])
        run.append(node)

    def rows(self) -> list[AuditTreeTile]:
        """Rows that never cross a 256-aligned tile boundary (a later seal continues a tile
        with a new row; no row is ever rewritten)."""
        out = []
        for height, run in sorted(self.hashes.items()):
            index = self.first[height]
            pos = 0
            while pos < len(run):
                take = min(TILE - index % TILE, len(run) - pos)
                out.append(AuditTreeTile(height=height, start=index,
                                         hashes=b"".join(run[pos:pos + take])))
                index, pos = index + take, pos + take
        return out
