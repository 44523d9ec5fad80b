"""Known datasets: where their files live, where they officially come from, and how to load them.

Data dirs are searched in order; each holds one folder per dataset (`<dir>/ml-100k/u.data`). The
CLI passes the environment's value in: library code never reads os.environ.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec.config import DataConfig
from llmrec.data import loaders
from llmrec.data.dataset import Dataset
from llmrec.data.download import DataFile, fetch
from llmrec.errors import DataError

Loader = Callable[[Path, DataConfig], Dataset]

GROUPLENS = "https://files.grouplens.org/datasets"
# raw files pinned to the commits whose sha256s are recorded in the data manifest
LIGHTGCN = "https://raw.githubusercontent.com/kuandeng/LightGCN/b067ec05f16a24e0e1efe63cd82385f0c469af20/Data"
LIGHTGCNPP = (
    "https://raw.githubusercontent.com/geon0325/LightGCNpp/a18af1e1f65dc4b6a432ce5aeaae5bbe75ac1c2e/data"
)
NETFLIX_DRIVE = "https://drive.google.com/drive/folders/1BGKm3nO4xzhyi_mpKJWcfxgi3sQ2j_Ec"


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset's files, whether it ships its own split, and its loader."""

    name: str
    description: str
    folder: str  # the dataset's folder inside a data dir ("" for custom: paths come from the config)
    files: tuple[DataFile, ...]
    has_split: bool
    loader: Loader
    manual: str = ""  # how to get files that have no direct download

    @property
    def required(self) -> tuple[DataFile, ...]:
        """The files the loader cannot do without."""
        return tuple(f for f in self.files if f.required)


def _zip(
    folder: str, url: str, prefix: str, names: dict[str, str | None], optional: Sequence[str] = ()
) -> tuple[DataFile, ...]:
    """DataFiles extracted from one archive: {name: sha256}; `prefix` is the members' folder in it."""
    return tuple(
        DataFile(f"{folder}/{name}", sha, name not in optional, url, f"{prefix}{name}")
        for name, sha in names.items()
    )


def _raw(
    folder: str, base: str, names: dict[str, str | None], optional: Sequence[str] = ()
) -> tuple[DataFile, ...]:
    """DataFiles downloaded one by one from `base/<name>`."""
    return tuple(
        DataFile(f"{folder}/{name}", sha, name not in optional, f"{base}/{name}")
        for name, sha in names.items()
    )


ML100K = _zip(
    "ml-100k",
    f"{GROUPLENS}/movielens/ml-100k.zip",
    "ml-100k/",
    {
        "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
        "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
    },
    optional=["u.user"],
) + (
    DataFile(
        "ml-100k-imdb-details/movielens100k_details.csv",
        "6cf7e26e4fae4604507937a5d468c802874bec407c7795b11e119e93c36b33ed",
        required=False,
    ),
)
ML1M = _zip(
    "ml-1m",
    f"{GROUPLENS}/movielens/ml-1m.zip",
    "ml-1m/",
    {
        # the manifest has no sha256 for ratings.dat (no copy was staged): only the parse check guards it
        "ratings.dat": None,
        "movies.dat": "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9",
        "users.dat": "1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3",
    },
    optional=["users.dat"],
) + (
    DataFile(
        "ml-1m-melu/movies_extrainfos.dat",
        "18432b1713b66a5262c11f6d929801a6e6f414d861cd2adf191dfba61e45c74d",
        required=False,
    ),
)
ML_LATEST_SMALL = _zip(
    "ml-latest-small",
    f"{GROUPLENS}/movielens/ml-latest-small.zip",
    "ml-latest-small/",
    {
        "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
        "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
        "links.csv": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
    },
    optional=["tags.csv", "links.csv"],
)
GOWALLA = _raw(
    "gowalla",
    f"{LIGHTGCN}/gowalla",
    {
        "train.txt": "7244696fdeb23911319cf7b689f2e15a3c4c92549c873a5677b44e3f13cc3e62",
        "test.txt": "099a2a73924e4b754dc6efd730d764f492321b53c38eb93298850c83acf57be3",
        "user_list.txt": "5344c4d0deef610e1f148f23ad216a0db03b36f88834cd39a06786a672c5f5a1",
        "item_list.txt": "6b186f92890cc3f0c15a6dae5d6285f125a302bb8c5ea0cd9a16cf9c16347139",
    },
    optional=["user_list.txt", "item_list.txt"],
)
YELP2018 = _raw(
    "yelp2018",
    f"{LIGHTGCN}/yelp2018",
    {
        "train.txt": "1e9568725a9e833d0ac3bae01c94cd95367f73b3bb6104fd26b5f65ea5054093",
        "test.txt": "9cd9b37926cd1447a06625ffa7914527573fb097c10cb0bbdb1d1b8ded3742fe",
        "user_list.txt": "4931519d8b3c40d71a34cc386c3287b6d63c1be9a82edd7ee6bfad765e640778",
        "item_list.txt": "1091bc824b60561906df552f2f7cb3ec61767b1e46fd4386b44400ae49712007",
    },
    optional=["user_list.txt", "item_list.txt"],
)
ML1M_LIGHTGCNPP = _raw(
    "ml-1m-lightgcnpp",
    f"{LIGHTGCNPP}/ml-1m",
    {  # sha256s of the staged copies of these exact commit's files (ml-1m-lightgcnpp/README.md)
        "train.txt": "dfa3a7a866feade29ca5722ac0423c1b0317ac1f6ad38a55fc1a7ceeb9cee3bb",
        "valid.txt": "429fe0d750b304677898d7eeb1080764bbf06550b94c9508b8cc8cd0573e3dfc",
        "test.txt": "0d58f78bbf606f401aec2efe3f519b945c458c8398955f986e03b880fbbd16a6",
    },
)
NETFLIX = (
    DataFile("llmrec-netflix/train.json", "30a26728e382ddbbdac7f8c9ab9d5b7a637bf40c8aff969fe26f989d4f7f2fd2"),
    DataFile("llmrec-netflix/test.json", "c0c3d7d4e4d97e6c069cdb7d4226cb730012ecfcc68c0b7d2e1fde93f08e186a"),
    DataFile(
        "llmrec-netflix/val.json",
        "c0c3d7d4e4d97e6c069cdb7d4226cb730012ecfcc68c0b7d2e1fde93f08e186a",
        required=False,
    ),
    DataFile(
        "llmrec-netflix/DERIVED_item_title_year_roworder.tsv",
        "3dc13771bb4db7cf3cdfdd2c6f8c7443f4db200ffb3194de8bb099ad0f57a063",
        required=False,
    ),
)
LASTFM = _zip(
    "hetrec2011-lastfm-2k",
    f"{GROUPLENS}/hetrec2011/hetrec2011-lastfm-2k.zip",
    "",  # this archive has its files at the top level
    {
        "user_artists.dat": "001400dc3c7d2667fca6e4ea6dc6acc31a9dd28ad5cd0f74cea988c019934d3b",
        "artists.dat": "c173881362c6b28551368fecb3c0be5a6a30a6cd859e1f5775413dfe46d48648",
        "tags.dat": "e95175f259be4c0c47644ae23d66131cd6d5767142a1405000e79f5584691d70",
        "user_taggedartists.dat": None,  # the staged copy is a reconstruction, so no published sha256
    },
    optional=["tags.dat", "user_taggedartists.dat"],
) + (
    DataFile(
        "hetrec2011-lastfm-2k/user_taggedartists.reconstructed.dat",
        "de5bb9566f0caff951834c444edc23a57f1a4f6c88d5c85b5941127d9aa6ebc4",
        required=False,
    ),
)


def _spec(
    name: str,
    description: str,
    folder: str,
    files: tuple[DataFile, ...],
    has_split: bool,
    load: Callable[[Path], Dataset],
    manual: str = "",
) -> DatasetSpec:
    """A spec whose loader needs only the located folder."""
    return DatasetSpec(name, description, folder, files, has_split, lambda path, _config: load(path), manual)


SPECS = (
    _spec(
        "ml-100k",
        "MovieLens 100K: 100,000 ratings (1-5), 943 users, 1,682 movies, demographics, IMDb text",
        "ml-100k",
        ML100K,
        False,
        loaders.load_ml100k,
    ),
    _spec(
        "ml-1m",
        "MovieLens 1M: 1,000,209 ratings, 6,040 users, 3,706 rated movies, demographics, OMDb text",
        "ml-1m",
        ML1M,
        False,
        loaders.load_ml1m,
    ),
    _spec(
        "ml-1m-lightgcnpp",
        "ML-1M rating>=3, LightGCN format with train/valid/test (LightGCN++); no titles",
        "ml-1m-lightgcnpp",
        ML1M_LIGHTGCNPP,
        True,
        loaders.load_ml1m_lightgcnpp,
    ),
    _spec(
        "ml-latest-small",
        "MovieLens latest-small (2018, for development only): 100,836 ratings, tags",
        "ml-latest-small",
        ML_LATEST_SMALL,
        False,
        loaders.load_ml_latest_small,
    ),
    _spec(
        "gowalla",
        "Gowalla check-ins, LightGCN split: 29,858 users, 40,981 items; no titles",
        "gowalla",
        GOWALLA,
        True,
        loaders.load_gowalla,
    ),
    _spec(
        "yelp2018",
        "Yelp 2018, LightGCN split: 31,668 users, 38,048 items; no titles",
        "yelp2018",
        YELP2018,
        True,
        loaders.load_yelp2018,
    ),
    _spec(
        "llmrec-netflix",
        "LLMRec's Netflix split: 13,187 users, 17,366 items; title alignment unverified",
        "llmrec-netflix",
        NETFLIX,
        True,
        loaders.load_netflix,
        manual="LLMRec's Netflix files have no direct download: copy train.json/val.json/test.json "
        f"from the authors' Google Drive ({NETFLIX_DRIVE})",
    ),
    _spec(
        "lastfm",
        "HetRec 2011 Last.fm 2K: 92,834 user-artist play counts (implicit: threshold 1 keeps all), tags",
        "hetrec2011-lastfm-2k",
        LASTFM,
        False,
        loaders.load_lastfm,
    ),
    DatasetSpec(
        "custom",
        "your own CSV/Parquet file: data.path, data.items_path and the column options",
        "",
        (),
        False,
        lambda _path, config: loaders.load_custom(config),
    ),
)
DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in SPECS}


def find_data_dirs(explicit: str | None, env: str | None) -> list[Path]:
    """Directories to search, in order: the option, the env value, ./data, ~/.cache/llmrec/data."""
    candidates = [explicit, env, "data", str(Path.home() / ".cache" / "llmrec" / "data")]
    dirs: list[Path] = []
    for c in candidates:
        if c and Path(c).expanduser() not in dirs:
            dirs.append(Path(c).expanduser())
    return dirs


def locate(spec: DatasetSpec, dirs: Sequence[Path], *, download: bool = True) -> Path:
    """The folder holding all of the dataset's required files; downloads them when no dir has them."""
    best, missing = _best_dir(spec, dirs)
    if best is not None and not missing:
        return best / spec.folder
    searched = ", ".join(str(d) for d in dirs) or "(no data dirs)"
    urls = sorted({f.url for f in spec.required if f.url})
    if len(urls) < len({f.url for f in spec.required}):  # some required file has no official URL
        how = spec.manual or "no official download is known"
    elif not download:
        how = f"get it from {', '.join(urls)}"
    else:
        target = _download_dir(dirs)
        try:
            fetch([f for f in spec.files if f.url and not (target / f.path).is_file()], target)
            return target / spec.folder
        except (DataError, OSError) as exc:
            how = f"download failed ({exc}); copy it by hand from {', '.join(urls)}"
    raise DataError(f"dataset '{spec.name}': missing {', '.join(missing)}; searched {searched}; {how}")


def _best_dir(spec: DatasetSpec, dirs: Sequence[Path]) -> tuple[Path | None, list[str]]:
    """The data dir holding the most required files (first on ties) and the ones it lacks."""
    best = min(dirs, key=lambda d: len(_absent(spec.required, d)), default=None)
    return best, [f.path for f in spec.required] if best is None else _absent(spec.required, best)


def _absent(files: Sequence[DataFile], d: Path) -> list[str]:
    """Paths of `files` not present under data dir `d`."""
    return [f.path for f in files if not (d / f.path).is_file()]


def _download_dir(dirs: Sequence[Path]) -> Path:
    """The first existing writable data dir, else the last one (the user cache), created."""
    for d in dirs:
        if d.is_dir() and os.access(d, os.W_OK):
            return d
    return dirs[-1] if dirs else Path.home() / ".cache" / "llmrec" / "data"


def dataset_status(dirs: Sequence[Path]) -> list[dict[str, Any]]:
    """One row per dataset for `llmrec datasets`; never downloads.

    Keys: name, description, path (the folder found, or None), missing (required files absent from
    the best dir), missing_optional (optional files absent there: less metadata, still loadable).
    """
    rows = []
    for spec in DATASETS.values():
        best, missing = _best_dir(spec, dirs)
        optional = [f for f in spec.files if not f.required]
        rows.append(
            {
                "name": spec.name,
                "description": spec.description,
                "path": str(best / spec.folder) if best is not None and not missing and spec.files else None,
                "missing": missing,
                "missing_optional": [f.path for f in optional] if best is None else _absent(optional, best),
            }
        )
    return rows
