"""MovieLens loaders: ml-100k, ml-1m (GroupLens originals) and ml-latest-small, with text metadata.

Extra text columns share one vocabulary across datasets so prompt builders need no per-dataset code:
director, writer, cast (', '-joined names), plot, rated (age rating), runtime.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from llmrec.data.dataset import Dataset
from llmrec.data.loaders._common import build_dataset, numbers, read_table, split_title_year, top_tags
from llmrec.errors import DataError

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)  # fmt: skip
ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist", "self-employed",
    "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip
IMDB_DETAILS = Path("ml-100k-imdb-details") / "movielens100k_details.csv"
MELU_EXTRAINFOS = Path("ml-1m-melu") / "movies_extrainfos.dat"
NO_PLOT = "It looks like we don't have any Plot Summaries"  # IMDb's placeholder text


def events_frame(path: Path, frame: pd.DataFrame, columns: tuple[str, str, str, str]) -> pd.DataFrame:
    """(user, item, rating, timestamp) columns of a ratings table, checked and typed."""
    user, item, rating, time = columns
    return pd.DataFrame(
        {
            "user": numbers(frame, user, path),
            "item": numbers(frame, item, path),
            "rating": numbers(frame, rating, path, integer=False),
            "timestamp": numbers(frame, time, path),
        }
    )


def load_ml100k(folder: Path) -> Dataset:
    """MovieLens 100K: u.data ratings, u.item titles and genres, u.user demographics, IMDb text."""
    cols = ("user", "item", "rating", "timestamp")
    path = folder / "u.data"
    events = events_frame(path, read_table(path, sep="\t", names=cols), cols)
    path = folder / "u.item"
    names = ["item", "title", "release_date", "video_release_date", "imdb_url", *ML100K_GENRES]
    raw = read_table(path, sep="|", names=names, encoding="latin-1")
    title, year = split_title_year(raw["title"])
    flags = pd.DataFrame({g: numbers(raw, g, path) for g in ML100K_GENRES}, index=raw.index)
    genres = flags.apply(lambda row: "|".join(g for g in ML100K_GENRES if row[g]), axis=1)
    meta = pd.DataFrame(
        {"title": title, "year": year, "genres": genres, "release_date": raw["release_date"]},
        index=raw.index,
    )
    meta.index = numbers(raw, "item", path)
    notes = []
    path = folder.parent / IMDB_DETAILS
    if path.is_file():
        details = imdb_details(path)
        trusted = matches_year(details.pop("scraped_year"), meta["year"])
        meta = meta.join(details[trusted])
        notes.append(
            f"ml-100k: IMDb text joined for {int(trusted.sum()):,} items; {int((~trusted).sum()):,} scraped "
            "records whose year is missing or disagrees with MovieLens were dropped (the scrape often "
            "matched another film or a TV episode)"
        )
    users = ml100k_users(folder / "u.user")
    return build_dataset("ml-100k", events, item_meta=meta, user_meta=users, notes=notes)


def matches_year(scraped: pd.Series, years: pd.Series) -> pd.Series:
    """True where a scraped year is within one year of the MovieLens year of the same movie id.

    Blank years are not trusted either: on inspection most such records are other films.
    """
    number = pd.to_numeric(scraped, errors="coerce")  # "Episode aired ...", "Video Game" -> NaN
    known = years.reindex(scraped.index).astype("Float64")
    return ((number - known).abs() <= 1).fillna(False).astype(bool)


def ml100k_users(path: Path) -> pd.DataFrame | None:
    """u.user demographics indexed by user id (None when the file is absent)."""
    if not path.is_file():
        return None
    raw = read_table(path, sep="|", names=["user", "age", "gender", "occupation", "zip"])
    meta = raw[["gender", "occupation", "zip"]].assign(age=numbers(raw, "age", path))
    meta.index = numbers(raw, "user", path)
    return meta[["age", "gender", "occupation", "zip"]]


def imdb_details(path: Path) -> pd.DataFrame:
    """ml-100k IMDb scrape (director, writer, cast, plot, rated, runtime, scraped_year) by movie id."""
    cols = ["movie_id", "description", "director", "writer", "cast", "age_rating", "movie_length", "year"]
    raw = read_table(path, sep=",", quoted=True, expect=cols)
    frame = pd.DataFrame(
        {
            "director": _join_list_literals(raw, "director", path),
            "writer": _join_list_literals(raw, "writer", path),
            "cast": _join_list_literals(raw, "cast", path),
            "plot": raw["description"].mask(raw["description"].str.startswith(NO_PLOT, na=False)),
            "rated": raw["age_rating"],
            "runtime": raw["movie_length"],
            "scraped_year": raw["year"],
        },
        index=raw.index,
    )
    frame.index = numbers(raw, "movie_id", path)
    return frame


def _join_list_literals(raw: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """A column of Python list literals ("['a', 'b']") as ', '-joined strings."""

    def one(line: int, value: object) -> str:
        if pd.isna(value):
            return ""
        try:
            parsed = ast.literal_eval(str(value))
        except (ValueError, SyntaxError):
            raise DataError(f"{path}: line {line}: {column} is not a list literal") from None
        names = parsed if isinstance(parsed, list) else [parsed]
        return ", ".join(str(n) for n in names if str(n) != "nan")  # the scrape writes ['nan'] for none

    return pd.Series([one(i, v) for i, v in raw[column].items()], index=raw.index, dtype=object)


def load_ml1m(folder: Path) -> Dataset:
    """MovieLens 1M: ratings.dat, movies.dat, users.dat (`::`, latin-1), plus MeLU's IMDb text."""
    cols = ("user", "item", "rating", "timestamp")
    path = folder / "ratings.dat"
    events = events_frame(path, read_table(path, sep="::", names=cols, encoding="latin-1"), cols)
    path = folder / "movies.dat"
    raw = read_table(path, sep="::", names=["item", "title", "genres"], encoding="latin-1")
    title, year = split_title_year(raw["title"])
    meta = pd.DataFrame({"title": title, "year": year, "genres": raw["genres"]}, index=raw.index)
    meta.index = numbers(raw, "item", path)
    extra = folder.parent / MELU_EXTRAINFOS
    if extra.is_file():
        meta = meta.join(melu_extrainfos(extra))
    return build_dataset("ml-1m", events, item_meta=meta, user_meta=ml1m_users(folder / "users.dat"))


def ml1m_users(path: Path) -> pd.DataFrame | None:
    """users.dat demographics; age stays the bracket's lower bound, occupation codes become names."""
    if not path.is_file():
        return None
    raw = read_table(path, sep="::", names=["user", "gender", "age", "occupation", "zip"], encoding="latin-1")
    codes = numbers(raw, "occupation", path)
    if ((codes < 0) | (codes >= len(ML1M_OCCUPATIONS))).any():
        line = raw.index[int(((codes < 0) | (codes >= len(ML1M_OCCUPATIONS))).argmax())]
        raise DataError(f"{path}: line {line}: unknown occupation code")
    meta = pd.DataFrame(
        {
            "age": numbers(raw, "age", path),
            "gender": raw["gender"].to_numpy(),
            "occupation": [ML1M_OCCUPATIONS[c] for c in codes],
            "zip": raw["zip"].to_numpy(),
        },
        index=numbers(raw, "user", path),
    )
    return meta


def melu_extrainfos(path: Path) -> pd.DataFrame:
    """MeLU's OMDb metadata for ML-1M (director, writer, cast, plot, rated) indexed by movie id."""
    names = [
        "item",
        "title",
        "year",
        "rated",
        "released",
        "genre",
        "director",
        "writer",
        "cast",
        "plot",
        "poster",
    ]
    raw = read_table(path, sep="::", names=names)
    frame = raw[["director", "writer", "cast", "plot", "rated"]].replace("N/A", pd.NA)  # OMDb's "missing"
    frame.index = numbers(raw, "item", path)
    return frame


def load_ml_latest_small(folder: Path) -> Dataset:
    """MovieLens latest-small: ratings.csv, movies.csv, tags.csv (as a `tags` column), links.csv."""
    path = folder / "ratings.csv"
    cols = ("userId", "movieId", "rating", "timestamp")
    events = events_frame(path, read_table(path, sep=",", quoted=True, expect=cols), cols)
    path = folder / "movies.csv"
    raw = read_table(path, sep=",", quoted=True, expect=["movieId", "title", "genres"])
    title, year = split_title_year(raw["title"])
    genres = raw["genres"].replace("(no genres listed)", "")
    meta = pd.DataFrame({"title": title, "year": year, "genres": genres}, index=raw.index)
    meta.index = numbers(raw, "movieId", path)
    path = folder / "tags.csv"
    if path.is_file():
        tags = read_table(path, sep=",", quoted=True, expect=["movieId", "tag"])
        meta["tags"] = top_tags(pd.Series(numbers(tags, "movieId", path)), tags["tag"], limit=20)
    path = folder / "links.csv"
    if path.is_file():
        links = read_table(path, sep=",", quoted=True, expect=["movieId", "imdbId", "tmdbId"])
        ids = links[["imdbId", "tmdbId"]].set_axis(["imdb_id", "tmdb_id"], axis=1)
        ids.index = numbers(links, "movieId", path)
        meta = meta.join(ids)
    return build_dataset("ml-latest-small", events, item_meta=meta)
