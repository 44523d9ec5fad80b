"""One loader per file-format family; each returns a `Dataset` with contiguous internal indices.

Every loader gives `item_meta` the columns `title` (str, "" when unknown), `year` (nullable Int64)
and `genres` (a '|'-joined str, "" when unknown), then whatever text the metadata files hold, under
shared names: director, writer, cast, plot, rated, runtime, tags. Raw ids stay in `user_ids` /
`item_ids`. Any malformed input raises `DataError` naming the file and line.
"""

from llmrec.data.loaders.custom import load_custom
from llmrec.data.loaders.lastfm import load_lastfm
from llmrec.data.loaders.lightgcn import load_gowalla, load_ml1m_lightgcnpp, load_yelp2018
from llmrec.data.loaders.movielens import load_ml1m, load_ml100k, load_ml_latest_small
from llmrec.data.loaders.netflix import load_netflix

__all__ = [
    "load_custom",
    "load_gowalla",
    "load_lastfm",
    "load_ml100k",
    "load_ml1m",
    "load_ml1m_lightgcnpp",
    "load_ml_latest_small",
    "load_netflix",
    "load_yelp2018",
]
