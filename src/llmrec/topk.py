"""Exact top-K of user x item dot products, screened by a bf16 product (fast on AVX512-BF16 CPUs).

Full ranking scores every item for every user. On a CPU with AVX512-BF16 the bf16 product is ~4x
faster than fp32, and top-K selection, not the product, is then the floor (benchmarks/eval_bf16_screen.py).
`ScreenedTopK` keeps the result exact while doing both fast:

1. bf16 scores S~ = bf16(u~ . i~) for a batch of users (seen items set to -inf), where u~ and i~ are
   u and i rounded to bf16, the products are summed in fp32 and the sum is rounded to bf16 (relative
   error <= 2^-8). So S = u . i <= S~ + 2^-8 |S~| + err_u with
   err_u = |u - u~| max|i| + |u~| max|i - i~| + 2^-16 |u~| max|i~|  (the last term: fp32 summation
   over <= 256 terms, and fp32 rescoring, with room to spare); the residual norms are measured, not
   bounded, which makes the bound ~4x tighter than the worst case 3 * 2^-8 |u| max|i|.
2. Per user, the items are cut into blocks of BLOCK; the m-th largest block maximum tau is found by a
   radix select over 16-bit keys. At least m items score >= tau; candidates are the items > tau.
3. Candidates are rescored in fp32 (the exact dot product) and the best K kept, ties to the lower index.
4. Every non-candidate has S~ <= value(tau), so S <= value(tau) + 2^-8 |value(tau)| + err_u. If the
   K-th exact score is above that, the top K is exact; otherwise (`ok` false: near-ties at the border,
   fewer than K unseen items) the caller ranks that user in full fp32.

The kernel is compiled by numba on first use (cached on disk after that) and runs over users in
parallel on torch's thread count.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numba
import numpy as np
import scipy.sparse as sp
import torch
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

BLOCK = 64  # items per block of the screen
ROUNDING = 2.0**-8  # bf16's unit roundoff (8 significant bits, round to nearest even)
NEG_INF_KEY = np.int32(-32641)  # the order key of bf16 -inf (0xFF80)


@functools.cache
def bf16_is_fast() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX): where the screen pays off."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def screen_blocks(k: int) -> int:
    """Blocks m whose maxima set the screen's threshold for a top-k: enough that few users fall back.

    Measured on Gowalla (K = 50, 29,858 users): m = 64 leaves 1 user to rank in full with trained
    SimGCL embeddings and 1,039 with random ones, m = 80 leaves none; each block more costs a rescored
    candidate.
    """
    return max(8 * k // 5, 40)


def worth_screening(n_items: int, k: int) -> bool:
    """Whether the screen is faster than exact ranking: a bf16 CPU and a catalogue of many blocks."""
    return bf16_is_fast() and n_items >= 4 * screen_blocks(k) * BLOCK


def mask_seen(scores: torch.Tensor, rows: np.ndarray, exclude: sp.csr_matrix | None) -> torch.Tensor:
    """Set scores[b, i] to -inf for every item i of user rows[b] in `exclude`; returns `scores`."""
    if exclude is not None and exclude.nnz:
        sub = exclude[rows]
        r = np.repeat(np.arange(len(rows)), np.diff(sub.indptr))
        scores[torch.from_numpy(r), torch.from_numpy(sub.indices.astype(np.int64))] = -torch.inf
    return scores


@intrinsic
def _prefetch_row(typingctx, arr, row):  # type: ignore[no-untyped-def]
    """Ask the CPU to start loading arr[row, 0] (llvm.prefetch: read, keep in all cache levels)."""
    sig = types.void(arr, row)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [index, zero])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(inline="always")
def _key(bits):  # type: ignore[no-untyped-def]
    """An int32 order key of a bf16 bit pattern (int16): a < b as floats iff key(a) < key(b)."""
    x = np.int32(bits)
    return x ^ ((x >> 31) & 0x7FFF)


@numba.njit(inline="always")
def _value(key):  # type: ignore[no-untyped-def]
    """The float32 value of the bf16 whose order key is `key` (the key map is its own inverse)."""
    word = np.empty(1, np.int32)
    word[0] = (key ^ ((key >> 31) & 0x7FFF)) << 16
    return word.view(np.float32)[0]


@numba.njit(inline="always")
def _block_max_key(row, lo, hi):  # type: ignore[no-untyped-def]
    """Largest key of row[lo:hi], from the raw int16 max and min (vectorised, no per-item key)."""
    high = row[lo]
    low = row[lo]
    for t in range(lo + 1, hi):
        high = max(high, row[t])
        low = min(low, row[t])
    return np.int32(high) if high >= 0 else _key(low)  # all negative: the smallest magnitude wins


@numba.njit(inline="always")
def _mth_largest(keys, m, hist):  # type: ignore[no-untyped-def]
    """The m-th largest of int32 keys in [-32768, 32767] (1 <= m <= len(keys)), by radix select."""
    hist[:] = 0
    for x in keys:
        hist[(x + 32768) >> 8] += 1
    above = 0
    high = 255
    while above + hist[high] < m:
        above += hist[high]
        high -= 1
    hist[:] = 0
    for x in keys:
        if (x + 32768) >> 8 == high:
            hist[(x + 32768) & 255] += 1
    low = 255
    while above + hist[low] < m:
        above += hist[low]
        low -= 1
    return np.int32((high << 8) + low - 32768)


@numba.njit(fastmath={"reassoc", "contract"}, inline="always")
def _dot(u, items, i):  # type: ignore[no-untyped-def]
    """fp32 dot product of u and items[i] (summation order left to the compiler)."""
    total = np.float32(0.0)
    for d in range(u.shape[0]):
        total += u[d] * items[i, d]
    return total


@numba.njit(inline="always")
def _keep_best(score, item, top_s, top_i, filled, k):  # type: ignore[no-untyped-def]
    """Insert (score, item) into the sorted best-k lists if it belongs there; returns the new fill."""
    last = k - 1
    if filled == k and (score < top_s[last] or (score == top_s[last] and item > top_i[last])):
        return filled
    pos = min(filled, last)
    while pos > 0 and (top_s[pos - 1] < score or (top_s[pos - 1] == score and top_i[pos - 1] > item)):
        top_s[pos] = top_s[pos - 1]
        top_i[pos] = top_i[pos - 1]
        pos -= 1
    top_s[pos] = score
    top_i[pos] = item
    return min(filled + 1, k)


@numba.njit(inline="always")
def _candidates(row, bmax, tau, cand):  # type: ignore[no-untyped-def]
    """Write the items of `row` with key > tau into `cand`; returns how many."""
    n_items = row.shape[0]
    c = 0
    for blk in range(bmax.shape[0]):
        if bmax[blk] <= tau:
            continue
        lo = blk * BLOCK
        hi = min(lo + BLOCK, n_items)
        if tau >= 0:  # a positive threshold: compare raw bits; most blocks hold one candidate
            raw = np.int16(tau)
            count = 0
            where = 0
            for t in range(lo, hi):
                above = row[t] > raw
                count += above
                where += t * above
            if count == 1:
                cand[c] = where
                c += 1
                continue
        for t in range(lo, hi):
            if _key(row[t]) > tau:
                cand[c] = t
                c += 1
    return c


@numba.njit(parallel=True, cache=True)
def _screen(bits, m, k, users, user_emb, item_emb, err, out, ok):  # type: ignore[no-untyped-def]
    """For each row b of bf16 scores `bits` (int16 view), the exact top k into out[b], ok[b] if proven.

    Row b belongs to user users[b]: user_emb and err (the per-user bound) are indexed by user.
    """
    n_rows, n_items = bits.shape
    n_blocks = (n_items + BLOCK - 1) // BLOCK
    for b in numba.prange(n_rows):
        row = bits[b]
        bmax = np.empty(n_blocks, np.int32)
        for blk in range(n_blocks):
            bmax[blk] = _block_max_key(row, blk * BLOCK, min(blk * BLOCK + BLOCK, n_items))
        tau = max(_mth_largest(bmax, min(m, n_blocks), np.empty(256, np.int64)), NEG_INF_KEY)
        cand = np.empty(min(m, n_blocks) * BLOCK, np.int64)
        c = _candidates(row, bmax, tau, cand)
        u = user_emb[users[b]]
        scores = np.empty(c, np.float32)
        for j in range(min(c, 8)):
            _prefetch_row(item_emb, cand[j])
        for j in range(c):  # rows of item_emb are scattered: fetch eight ahead
            if j + 8 < c:
                _prefetch_row(item_emb, cand[j + 8])
            scores[j] = _dot(u, item_emb, cand[j])
        top_s = np.full(k, -np.inf, np.float32)
        top_i = np.full(k, n_items, np.int64)
        filled = 0
        for j in range(c):
            filled = _keep_best(scores[j], cand[j], top_s, top_i, filled, k)
        bound = _value(tau)
        bound += ROUNDING * abs(bound) + err[users[b]]
        ok[b] = filled == k and top_s[k - 1] > bound
        out[b, :] = top_i


def error_bounds(
    user: torch.Tensor, item: torch.Tensor, user_bf16: torch.Tensor, item_bf16: torch.Tensor
) -> np.ndarray:
    """Per-user err_u (see the module doc), from the measured bf16 rounding residuals, as float32."""
    u, i = user.double(), item.double()
    ub, ib = user_bf16.double(), item_bf16.double()
    ub_norm = ub.norm(dim=1)
    i_max, ib_max = i.norm(dim=1).max(), ib.norm(dim=1).max()
    ri_max = (i - ib).norm(dim=1).max()
    err = (u - ub).norm(dim=1) * i_max + ub_norm * ri_max + 2.0**-16 * ub_norm * ib_max
    return np.nextafter(err.numpy().astype(np.float32), np.float32(np.inf))  # round the bound up


class ScreenedTopK:
    """Exact top-K unseen items for batches of users, from fixed fp32 embeddings (see module doc)."""

    def __init__(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> None:
        """Keep fp32 copies for rescoring and bf16 copies for the screen."""
        self.user = user_emb.detach().float().contiguous()
        self.item = item_emb.detach().float().contiguous()
        self.user_bf16 = self.user.bfloat16()
        self.item_bf16_t = self.item.T.contiguous().bfloat16()
        self.err = error_bounds(self.user, self.item, self.user_bf16, self.item_bf16_t.T)
        self.buffer = torch.empty(0, self.item.shape[0], dtype=torch.bfloat16)

    def top_k(
        self, rows: np.ndarray, exclude: sp.csr_matrix | None, k: int
    ) -> tuple[torch.Tensor, np.ndarray]:
        """([B, k] item indices best first, [B] bool: proven exact) for user indices `rows`.

        `exclude` (users x items) holds the seen items, never returned. Rows not proven exact hold
        the best candidates found; the caller ranks them in full.
        """
        n, n_items = len(rows), self.item.shape[0]
        if not 1 <= k <= n_items:
            raise ValueError(f"k must be in [1, {n_items}], got {k}")
        if self.buffer.shape[0] < n:
            self.buffer = torch.empty(n, n_items, dtype=torch.bfloat16)
        scores = torch.mm(self.user_bf16[torch.from_numpy(rows)], self.item_bf16_t, out=self.buffer[:n])
        mask_seen(scores, rows, exclude)
        out = np.empty((n, k), np.int64)
        ok = np.empty(n, np.bool_)
        most = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
        numba.set_num_threads(max(1, min(torch.get_num_threads(), most)))
        _screen(
            scores.view(torch.int16).numpy(),
            screen_blocks(k),
            k,
            np.ascontiguousarray(rows, dtype=np.int64),
            self.user.numpy(),
            self.item.numpy(),
            self.err,
            out,
            ok,
        )
        return torch.from_numpy(out), ok
