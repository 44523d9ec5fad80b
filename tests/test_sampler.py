"""BPR sampler: every edge once per epoch, negatives never among the user's items."""

import numpy as np
import pytest

from llmrec.data.interactions import Interactions
from llmrec.data.sampler import AugmentedSampler, BPRSampler


def test_epoch_covers_each_edge_once_with_true_negatives() -> None:
    rng = np.random.default_rng(0)
    users = rng.integers(0, 50, 2000)
    items = rng.integers(0, 40, 2000)
    train = Interactions.from_pairs(users, items, np.arange(50), np.arange(40))
    sampler = BPRSampler(train, seed=1)
    batches = list(sampler.epoch(128))
    assert len(batches) == sampler.n_batches(128)
    u = np.concatenate([b[0] for b in batches])
    p = np.concatenate([b[1] for b in batches])
    n = np.concatenate([b[2] for b in batches])
    dense = train.user_items.toarray() > 0
    assert len(u) == train.nnz
    all_u, all_i = train.pairs()
    assert np.array_equal(np.sort(u * 40 + p), np.sort(all_u * 40 + all_i))
    assert dense[u, p].all()
    assert not dense[u, n].any()


def test_user_with_every_item_raises() -> None:
    train = Interactions.from_pairs([0, 0], [0, 1], np.arange(1), np.arange(2))
    with pytest.raises(ValueError, match="every item"):
        list(BPRSampler(train, seed=0).epoch(2))


def test_augmented_sampler_appends_triples_and_keeps_the_original_batches() -> None:
    rng = np.random.default_rng(0)
    train = Interactions.from_pairs(
        rng.integers(0, 30, 500), rng.integers(0, 20, 500), np.arange(30), np.arange(20)
    )
    aug = (np.array([0, 1, 2]), np.array([3, 4, 5]), np.array([6, 7, 8]))
    plain = list(BPRSampler(train, seed=4).epoch(100))
    augmented = list(AugmentedSampler(train, aug, rate=0.1, seed=4).epoch(100))
    assert len(augmented) == len(plain)
    for base, batch in zip(plain, augmented, strict=True):
        assert len(batch) == 6
        for a, b in zip(base, batch[:3], strict=True):
            assert np.array_equal(a, b)  # augmentation leaves the original part draw for draw
        assert len(batch[3]) == max(1, round(0.1 * len(base[0])))
        # every augmented row is one of the given triples, never a mix of two
        rows = {tuple(r) for r in np.stack(batch[3:]).T}
        assert rows <= {(0, 3, 6), (1, 4, 7), (2, 5, 8)}


def test_augmented_sampler_rejects_bad_triples() -> None:
    train = Interactions.from_pairs([0, 1], [0, 1], np.arange(2), np.arange(3))
    ok = (np.array([0]), np.array([2]), np.array([1]))
    with pytest.raises(ValueError, match="aligned"):
        AugmentedSampler(train, (np.array([0, 1]), np.array([2]), np.array([1])), 0.1, 0)
    with pytest.raises(ValueError, match="users"):
        AugmentedSampler(train, (np.array([5]), ok[1], ok[2]), 0.1, 0)
    with pytest.raises(ValueError, match="neg items"):
        AugmentedSampler(train, (ok[0], ok[1], np.array([3])), 0.1, 0)
    with pytest.raises(ValueError, match="aug_rate"):
        AugmentedSampler(train, ok, 0.0, 0)


def test_several_negatives_are_true_negative_candidates_in_the_same_edge_order() -> None:
    rng = np.random.default_rng(0)
    train = Interactions.from_pairs(
        rng.integers(0, 30, 600), rng.integers(0, 25, 600), np.arange(30), np.arange(25)
    )
    dense = train.user_items.toarray() > 0
    batches = list(BPRSampler(train, seed=3, n_negatives=7).epoch(100))
    assert sum(len(b[0]) for b in batches) == train.nnz
    for users, pos, neg in batches:
        assert neg.shape == (len(users), 7)
        assert dense[users, pos].all()
        assert not dense[users[:, None], neg].any()  # no candidate is one of the user's items
    # the edges come in the same order as with one negative: only the negatives differ
    single = list(BPRSampler(train, seed=3, n_negatives=1).epoch(100))
    for one, several in zip(single, batches, strict=True):
        assert np.array_equal(one[0], several[0]) and np.array_equal(one[1], several[1])
        assert one[2].shape == one[0].shape  # one negative per edge: a flat array
    with pytest.raises(ValueError, match="n_negatives"):
        BPRSampler(train, seed=3, n_negatives=0)


@pytest.mark.parametrize("kind", ["one", "several", "augmented"])
def test_a_restored_state_replays_the_following_epochs(kind: str) -> None:
    # what a resumed training run relies on: a new sampler of the same data and seed, given the state
    # an earlier one had between epochs, draws exactly the batches that earlier one drew next
    rng = np.random.default_rng(0)
    train = Interactions.from_pairs(
        rng.integers(0, 30, 500), rng.integers(0, 40, 500), np.arange(30), np.arange(40)
    )
    triples = (rng.integers(0, 30, 50), rng.integers(0, 40, 50), rng.integers(0, 40, 50))

    def make() -> BPRSampler | AugmentedSampler:
        if kind == "augmented":
            return AugmentedSampler(train, triples, 0.5, seed=4)
        return BPRSampler(train, seed=4, n_negatives=1 if kind == "one" else 3)

    first = make()
    list(first.epoch(64))
    state = first.state()
    want = [list(first.epoch(64)) for _ in range(2)]
    fresh = make()
    got_unrestored = list(fresh.epoch(64))
    restored = make()
    restored.set_state(state)
    got = [list(restored.epoch(64)) for _ in range(2)]
    for want_epoch, got_epoch in zip(want, got, strict=True):
        for want_batch, got_batch in zip(want_epoch, got_epoch, strict=True):
            for a, b in zip(want_batch, got_batch, strict=True):
                assert np.array_equal(a, b)
    # and without the state, the next epoch would have been a different draw
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(want[0], got_unrestored, strict=True))


def test_merged_augmented_batches_append_the_triples_to_the_bpr_batch() -> None:
    """Merged mode: the same original part as BPRSampler, then the drawn triples; with K negatives the
    augmented negative fills all K columns."""
    from llmrec.data.sampler import AugmentedSampler, BPRSampler

    train = Interactions.from_pairs(
        np.array([0, 0, 1, 2]), np.array([0, 1, 2, 3]), np.arange(3), np.arange(5)
    )
    aug = (np.array([2, 1]), np.array([4, 0]), np.array([1, 3]))
    for k in (1, 3):
        merged = list(AugmentedSampler(train, aug, 0.5, seed=7, merged=True, n_negatives=k).epoch(4))
        plain = list(BPRSampler(train, 7, k).epoch(4))
        (users, pos, neg), (pu, pp, pn) = merged[0], plain[0]
        assert len(users) == 4 + 2 and (users[:4] == pu).all() and (pos[:4] == pp).all()
        assert (neg[:4] == pn).all()
        for u, i, j in zip(users[4:], pos[4:], neg[4:], strict=True):  # each appended row is a triple
            row = [int(u), int(i), int(np.atleast_1d(j)[0])]
            assert row in ([2, 4, 1], [1, 0, 3]) and (k == 1 or (np.atleast_1d(j) == row[2]).all())
