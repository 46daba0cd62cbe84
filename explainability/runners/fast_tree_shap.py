"""Exact path-dependent TreeSHAP for XGBoost tree ensembles, precomputed per leaf.

The rules: the values are exactly those of TreeSHAP's path-dependent algorithm (XGBoost's own
``pred_contribs=True``, which is what ``shap.TreeExplainer`` calls for XGBoost), computed in
float64; the base value is XGBoost's own bias term. Only plain gradient-boosted trees with numeric
splits are handled here (``supports`` says why not otherwise) - everything else uses the native
call.

Why it is faster. For one leaf, the path-dependent value function only depends on which of the
leaf's path features the row "follows" (every split on that feature along the path sends the row
towards the leaf): with ``k`` distinct features on the path there are ``2**k`` such patterns, and
the leaf's contribution to each of its ``k`` features is a fixed number per pattern. Those numbers
are computed once per model (``2**k * k`` per leaf; the idea of Yang's Fast TreeSHAP v2), so a row
costs one comparison per node and ``k`` additions per leaf instead of TreeSHAP's ``O(L D^2)`` per
tree. Rows run in parallel (numba threads).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

try:  # numba ships with shap (a pinned dependency); without it the native call is used
    import numba
except ImportError:  # pragma: no cover - numba is pinned in requirements.txt
    numba = None

ALGORITHM = "fast path-dependent TreeSHAP (leaf pattern tables, exact)"
#: Upper bound on the tables' size (float64 entries; 32M = 256 MB) and on distinct features per
#: path: deeper models use the native call, whose memory does not grow with 2**depth.
MAX_TABLE_ENTRIES = 32_000_000
MAX_PATH_FEATURES = 16
BLOCK = 256  # rows per block: a block's patterns and values stay in the core's cache


@dataclass
class Ensemble:
    """Flat arrays of one output's trees, ready for the row kernel."""

    left: np.ndarray  # int32, per node (global index), -1 for leaves
    right: np.ndarray
    default_left: np.ndarray  # bool
    feature: np.ndarray  # int32
    threshold: np.ndarray  # float32: go left when x < threshold (XGBoost's rule)
    position: np.ndarray  # int32: the node's feature's slot among its leaves' path features
    first: np.ndarray  # bool: the node is the first split on its feature along the path
    order: np.ndarray  # int32: each tree's nodes, parents before children
    sizes: np.ndarray  # int32: nodes per tree (a tree's nodes are roots[t] .. roots[t]+size-1)
    roots: np.ndarray  # int32, per tree
    leaf_offset: np.ndarray  # int64, per node: start of the leaf's table
    leaf_k: np.ndarray  # int32, per node: distinct path features of the leaf
    leaf_features: np.ndarray  # int32, per node x MAX_PATH_FEATURES
    table: np.ndarray  # float64
    n_features: int


def supports(booster: Any) -> str | None:
    """None when ``explain`` handles this booster, else the reason it does not."""
    if numba is None:
        return "numba is not installed"
    config = json.loads(booster.save_config())
    name = config["learner"]["gradient_booster"]["name"]
    if name != "gbtree":
        return f"the booster is {name}, not gbtree"
    model = _model_json(booster)
    for tree in model["trees"]:
        if any(int(t) != 0 for t in tree.get("split_type", [])):
            return "the model has categorical splits"
    return None


def build(booster: Any, output: int, n_features: int) -> Ensemble | None:
    """The flattened trees of ``output`` (a class group) with their leaf tables, or None when the
    tables would exceed MAX_TABLE_ENTRIES or a path has more than MAX_PATH_FEATURES features."""
    model = _model_json(booster)
    tree_info = model.get("tree_info") or [0] * len(model["trees"])
    trees = [t for t, group in zip(model["trees"], tree_info, strict=True) if int(group) == output]
    sizes = [len(t["left_children"]) for t in trees]
    total = int(sum(sizes))
    left = np.full(total, -1, np.int32)
    right = np.full(total, -1, np.int32)
    default_left = np.zeros(total, np.bool_)
    feature = np.zeros(total, np.int32)
    threshold = np.zeros(total, np.float32)
    value = np.zeros(total, np.float64)
    cover = np.zeros(total, np.float64)
    roots = np.zeros(len(trees), np.int32)
    start = 0
    for i, tree in enumerate(trees):
        n = sizes[i]
        roots[i] = start
        lc = np.asarray(tree["left_children"], np.int64)
        rc = np.asarray(tree["right_children"], np.int64)
        leaf = lc < 0
        left[start : start + n] = np.where(leaf, -1, lc + start)
        right[start : start + n] = np.where(leaf, -1, rc + start)
        default_left[start : start + n] = np.asarray(tree["default_left"], bool)
        feature[start : start + n] = np.asarray(tree["split_indices"], np.int32)
        conditions = np.asarray(tree["split_conditions"], np.float64)
        threshold[start : start + n] = conditions.astype(np.float32)
        value[start : start + n] = np.where(leaf, conditions, 0.0)
        cover[start : start + n] = np.asarray(tree["sum_hessian"], np.float64)
        start += n
    position = np.zeros(total, np.int32)
    first = np.zeros(total, np.bool_)
    order = np.zeros(total, np.int32)
    leaf_k = np.zeros(total, np.int32)
    leaf_features = np.full((total, MAX_PATH_FEATURES), -1, np.int32)
    zero = np.zeros((total, MAX_PATH_FEATURES), np.float64)
    ok = _paths(roots, left, right, feature, cover, position, first, order, leaf_k, leaf_features,
                zero, MAX_PATH_FEATURES)
    if not ok:
        return None
    is_leaf = left < 0
    sizes_per_leaf = np.where(is_leaf, (2 ** leaf_k.astype(np.int64)) * leaf_k, 0)
    if int(sizes_per_leaf.sum()) > MAX_TABLE_ENTRIES:
        return None
    leaf_offset = np.concatenate([[0], np.cumsum(sizes_per_leaf)[:-1]]).astype(np.int64)
    table = np.zeros(int(sizes_per_leaf.sum()), np.float64)
    weights = _shapley_weights(MAX_PATH_FEATURES)
    _tables(np.flatnonzero(is_leaf).astype(np.int64), leaf_k, zero, value, leaf_offset, weights,
            table)
    return Ensemble(left, right, default_left, feature, threshold, position, first, order,
                    np.asarray(sizes, np.int32), roots, leaf_offset, leaf_k, leaf_features, table,
                    n_features)


def explain(ensemble: Ensemble, X: np.ndarray) -> np.ndarray:
    """SHAP values (rows x features, float64) of ``X`` for the ensemble's output, without the
    base value. ``X`` is cast to float32 first, as XGBoost does before comparing."""
    data = np.ascontiguousarray(np.asarray(X, dtype=np.float32).T)  # one column per feature
    out = np.zeros((data.shape[1], ensemble.n_features), np.float64)
    _rows(data, ensemble.left, ensemble.right, ensemble.default_left, ensemble.feature,
          ensemble.threshold, ensemble.position, ensemble.first, ensemble.order, ensemble.roots,
          ensemble.sizes, ensemble.leaf_offset, ensemble.leaf_k, ensemble.leaf_features,
          ensemble.table, out)
    return out


def _model_json(booster: Any) -> dict[str, Any]:
    return json.loads(bytes(booster.save_raw("json")))["learner"]["gradient_booster"]["model"]


def _shapley_weights(k_max: int) -> np.ndarray:
    """w[k, s] = s! (k - s - 1)! / k!: the Shapley weight of a coalition of s among k players."""
    weights = np.zeros((k_max + 1, k_max + 1))
    for k in range(1, k_max + 1):
        for s in range(k):
            weights[k, s] = math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k)
    return weights


def _jit(**options):
    if numba is None:  # pragma: no cover
        return lambda function: function
    return numba.njit(cache=True, nogil=True, **options)


@_jit()
def _paths(roots, left, right, feature, cover, position, first, order, leaf_k, leaf_features,
           zero, k_max):
    """Walk each tree once: give every split node its feature's slot (first appearance on the
    path from the root), and every leaf its path features and their zero fractions (the product
    of cover ratios of the path's splits on that feature)."""
    n_nodes = left.shape[0]
    stack = np.empty(n_nodes, np.int64)
    feats = np.empty((n_nodes, k_max), np.int32)
    zeros = np.empty((n_nodes, k_max), np.float64)
    counts = np.zeros(n_nodes, np.int32)
    visited = 0
    for t in range(roots.shape[0]):
        top = 0
        stack[top] = roots[t]
        counts[roots[t]] = 0
        top += 1
        while top > 0:
            top -= 1
            node = stack[top]
            order[visited] = node  # popped after its parent: a parent-before-child order
            visited += 1
            k = counts[node]
            if left[node] < 0:
                leaf_k[node] = k
                for q in range(k):
                    leaf_features[node, q] = feats[node, q]
                    zero[node, q] = zeros[node, q]
                continue
            f = feature[node]
            slot = -1
            for q in range(k):
                if feats[node, q] == f:
                    slot = q
            new_k = k
            if slot < 0:
                if k >= k_max:
                    return False
                slot = k
                new_k = k + 1
            position[node] = slot
            first[node] = new_k > k
            for child in (left[node], right[node]):
                ratio = cover[child] / cover[node] if cover[node] > 0 else 0.0
                for q in range(k):
                    feats[child, q] = feats[node, q]
                    zeros[child, q] = zeros[node, q]
                feats[child, slot] = f
                zeros[child, slot] = (zeros[node, slot] * ratio) if slot < k else ratio
                counts[child] = new_k
                stack[top] = child
                top += 1
    return True


@_jit()
def _tables(leaves, leaf_k, zero, value, leaf_offset, weights, table):
    """table[leaf][pattern, i]: the leaf's contribution to its i-th path feature when the row
    follows exactly the path features whose bits are set in ``pattern``:
    v * (o_i - z_i) * sum over coalitions S of the others of w(|S|) prod_S o_j prod_rest z_j."""
    poly = np.empty(32)
    for index in range(leaves.shape[0]):
        leaf = leaves[index]
        k = leaf_k[leaf]
        v = value[leaf]
        base = leaf_offset[leaf]
        for pattern in range(1 << k):
            for i in range(k):
                # coefficients of prod_{j != i} (z_j + o_j t): degree = coalition size
                poly[0] = 1.0
                degree = 0
                for j in range(k):
                    if j == i:
                        continue
                    z = zero[leaf, j]
                    if (pattern >> j) & 1:
                        poly[degree + 1] = poly[degree]
                        for s in range(degree, 0, -1):
                            poly[s] = poly[s] * z + poly[s - 1]
                        poly[0] = poly[0] * z
                        degree += 1
                    else:
                        for s in range(degree + 1):
                            poly[s] = poly[s] * z
                total = 0.0
                for s in range(degree + 1):
                    total += poly[s] * weights[k, s]
                o = 1.0 if (pattern >> i) & 1 else 0.0
                table[base + pattern * k + i] = v * (o - zero[leaf, i]) * total


@_jit(parallel=True)
def _rows(data, left, right, default_left, feature, threshold, position, first, order, roots,
          sizes, leaf_offset, leaf_k, leaf_features, table, out):
    """Rows in blocks (one block per thread at a time); per tree, every node's direction for the
    whole block, then each node's pattern of followed path features from its parent's (nodes in
    parent-before-child order), then each leaf's table row added to the block's values. The inner
    loops run over the block's rows without branches, so they vectorise."""
    n_rows = data.shape[1]
    n_blocks = (n_rows + BLOCK - 1) // BLOCK
    widest = 0
    for t in range(roots.shape[0]):
        widest = max(widest, sizes[t])
    for block in numba.prange(n_blocks):
        r0 = block * BLOCK
        width = min(BLOCK, n_rows - r0)
        bits = np.zeros((widest, BLOCK), np.int64)
        phi = np.zeros((out.shape[1], BLOCK), np.float64)
        for t in range(roots.shape[0]):
            root = roots[t]
            for b in range(width):
                bits[0, b] = 0
            for index in range(sizes[t]):
                node = order[root + index]
                local = node - root
                if left[node] < 0:
                    k = leaf_k[node]
                    base = leaf_offset[node]
                    for q in range(k):
                        target = phi[leaf_features[node, q]]
                        for b in range(width):
                            target[b] += table[base + bits[local, b] * k + q]
                    continue
                column = data[feature[node]]
                cut = threshold[node]
                missing_left = default_left[node]
                bit = np.int64(1) << position[node]
                keep = bit if first[node] else np.int64(0)
                lo = left[node] - root
                hi = right[node] - root
                for b in range(width):
                    v = column[r0 + b]
                    go = (v < cut) | ((v != v) & missing_left)
                    current = bits[local, b]
                    # A feature new on the path starts followed on the row's side; a repeated
                    # one stays followed there only if it was followed above.
                    on = (current | keep) & bit
                    rest = current & ~bit
                    mask = -np.int64(go)
                    bits[lo, b] = rest | (on & mask)
                    bits[hi, b] = rest | (on & ~mask)
        for j in range(out.shape[1]):
            for b in range(width):
                out[r0 + b, j] = phi[j, b]
