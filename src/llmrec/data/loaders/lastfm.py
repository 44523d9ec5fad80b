"""HetRec 2011 Last.fm 2K: user -> artist listening counts, artist names and top tags."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from llmrec.data.dataset import Dataset
from llmrec.data.loaders._common import build_dataset, numbers, read_table, top_tags

N_TAGS = 10  # top tags kept per artist: enough to describe it in a prompt
TAGGINGS = ("user_taggedartists.dat", "user_taggedartists.reconstructed.dat")  # original first


def load_lastfm(folder: Path) -> Dataset:
    """Listening counts kept as `ratings`, flagged as counts so no rating threshold drops pairs."""
    path = folder / "user_artists.dat"
    raw = read_table(path, sep="\t", expect=["userID", "artistID", "weight"])
    events = pd.DataFrame(
        {
            "user": numbers(raw, "userID", path),
            "item": numbers(raw, "artistID", path),
            "rating": numbers(raw, "weight", path, integer=False),
        }
    )
    path = folder / "artists.dat"
    artists = read_table(path, sep="\t", expect=["id", "name", "url"])
    meta = artists[["name", "url"]].set_axis(["title", "url"], axis=1)
    meta.index = numbers(artists, "id", path)
    notes = []
    taggings = next((folder / f for f in TAGGINGS if (folder / f).is_file()), None)
    if taggings is not None and (folder / "tags.dat").is_file():
        meta["tags"] = _artist_tags(taggings, folder / "tags.dat")
        if taggings.name != TAGGINGS[0]:
            notes.append(f"lastfm: artist tags from {taggings.name} (rebuilt copy, one tagging row lost)")
    ds = build_dataset("lastfm", events, item_meta=meta, notes=notes)
    ds.ratings_are_counts = True
    return ds


def _artist_tags(taggings: Path, tags: Path) -> pd.Series:
    """The N_TAGS tags most often applied to each artist, ', '-joined, indexed by artist id."""
    raw = read_table(taggings, sep="\t", expect=["artistID", "tagID"])
    names = read_table(tags, sep="\t", encoding="latin-1", expect=["tagID", "tagValue"])
    lookup = pd.Series(names["tagValue"].to_numpy(), index=numbers(names, "tagID", tags))
    tag_names = lookup.reindex(numbers(raw, "tagID", taggings))
    return top_tags(pd.Series(numbers(raw, "artistID", taggings)), tag_names, limit=N_TAGS)
