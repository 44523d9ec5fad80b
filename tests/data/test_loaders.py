"""Each loader on tiny hand-written files: exact parsed values, and DataErrors for bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmrec.config import DataConfig
from llmrec.data.dataset import TEST, TRAIN, VALID
from llmrec.data.loaders import (
    load_custom,
    load_gowalla,
    load_lastfm,
    load_ml1m,
    load_ml1m_lightgcnpp,
    load_ml100k,
    load_ml_latest_small,
    load_netflix,
)
from llmrec.data.loaders.netflix import N_ITEMS, N_USERS
from llmrec.errors import ConfigError, DataError

FLAGS_ACTION_COMEDY = "|".join("1" if i in (1, 5) else "0" for i in range(19))
FLAGS_UNKNOWN = "|".join("1" if i == 0 else "0" for i in range(19))
FLAGS_CRIME_THRILLER = "|".join("1" if i in (6, 16) else "0" for i in range(19))


def _ml100k(write, u_data: str = "1\t10\t5\t100\n1\t20\t3\t200\n2\t10\t4\t150\n2\t30\t1\t50\n") -> Path:
    write("ml-100k/u.data", u_data)
    write(
        "ml-100k/u.item",
        f"10|Café (1995)|01-Jan-1995||http://x|{FLAGS_ACTION_COMEDY}\n"
        f"20|unknown|||http://y|{FLAGS_UNKNOWN}\n"
        f"30|Heat (1995)|15-Dec-1995||http://z|{FLAGS_CRIME_THRILLER}\n",
        encoding="latin-1",
    )
    return write("ml-100k/u.user", "1|24|M|technician|85711\n2|53|F|other|T8H1N\n").parent


def test_ml100k_events_titles_genres_users(write) -> None:
    ds = load_ml100k(_ml100k(write))
    assert ds.user_ids.tolist() == [1, 2] and ds.item_ids.tolist() == [10, 20, 30]
    assert ds.users.tolist() == [0, 0, 1, 1] and ds.items.tolist() == [0, 1, 0, 2]
    assert ds.ratings.tolist() == [5, 3, 4, 1] and ds.timestamps.tolist() == [100, 200, 150, 50]
    assert ds.folds is None
    meta = ds.item_meta
    assert meta["title"].tolist() == ["Café", "unknown", "Heat"]
    assert meta["year"].tolist() == [1995, pd.NA, 1995]
    assert meta["genres"].tolist() == ["Action|Comedy", "unknown", "Crime|Thriller"]
    assert meta["release_date"].tolist() == ["01-Jan-1995", "", "15-Dec-1995"]
    assert "director" not in meta
    assert ds.user_meta.to_dict("list") == {
        "age": [24, 53],
        "gender": ["M", "F"],
        "occupation": ["technician", "other"],
        "zip": ["85711", "T8H1N"],
    }


def test_ml100k_joins_imdb_details_only_where_the_year_matches(write) -> None:
    folder = _ml100k(write)
    write(
        "ml-100k-imdb-details/movielens100k_details.csv",
        "movie_id,movie_title,description,director,writer,cast,age_rating,movie_length,year\n"
        "10,Café,\"Line one\nline two\",\"['A B']\",\"['C', 'D']\",\"['E']\",PG,1h 30min,1995.0\n"
        "30,Heat,It looks like we don't have any Plot Summaries for this title yet.,['nan'],[],[],R,2h,1996\n"
        "20,Unknown,Another film,['Z'],[],[],R,2h,2011\n",
    )
    ds = load_ml100k(folder)
    meta = ds.item_meta  # item 20 has no MovieLens year, so its scraped record cannot be trusted
    assert meta["director"].tolist() == ["A B", "", ""]
    assert meta["writer"].tolist() == ["C, D", "", ""]
    assert meta["cast"].tolist() == ["E", "", ""]
    assert meta["plot"].tolist() == ["Line one\nline two", "", ""]
    assert meta["rated"].tolist() == ["PG", "", "R"]
    assert meta["runtime"].tolist() == ["1h 30min", "", "2h"]
    assert ds.notes[0].startswith("ml-100k: IMDb text joined for 2 items; 1 scraped records")


def test_ml100k_bad_list_literal_names_file(write) -> None:
    folder = _ml100k(write)
    write(
        "ml-100k-imdb-details/movielens100k_details.csv",
        "movie_id,description,director,writer,cast,age_rating,movie_length,year\n10,x,['A,[],[],PG,1h,1995\n",
    )
    with pytest.raises(DataError, match=r"movielens100k_details.csv: line 2: director is not a list literal"):
        load_ml100k(folder)


@pytest.mark.parametrize(
    ("u_data", "message"),
    [
        ("1\t10\t5\t100\n1\t20\tx\t200\n", r"u.data: line 2: rating is 'x', not a number"),
        ("1\t10\t5\t100\n\n1\t20\t3\n", r"u.data: line 3: timestamp is missing"),
        ("1\t10\t5\t100\n1\t20\t3\t200\t9\n", r"u.data: line 2: expected 4 fields, found 5"),
        ("1\t10.5\t5\t100\n", r"u.data: line 1: item is '10.5', not an integer"),
    ],
)
def test_ml100k_malformed_lines_name_file_and_line(write, u_data: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_ml100k(_ml100k(write, u_data))


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"u.data: file not found"):
        load_ml100k(tmp_path)


def test_undecodable_byte_names_the_line(write) -> None:
    folder = _ml100k(write)
    write("ml-100k/u.user", "1|24|M|technician|85711\n2|53|F|caf\xe9|1\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"u.user: line 2: not valid utf-8 text"):
        load_ml100k(folder)


def _ml1m(write) -> Path:
    write("ml-1m/ratings.dat", "1::260::5::978300760\n1::3::3::978302109\n6::260::4::978300000\n")
    write(
        "ml-1m/movies.dat",
        "3::Grumpier Old Men (1995)::Comedy|Romance\n"
        "260::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi\n"
        "999::Amélie (2001)::Comedy\n",
        encoding="latin-1",
    )
    return write("ml-1m/users.dat", "1::F::1::10::48067\n6::M::56::20::70072\n", encoding="latin-1").parent


def test_ml1m_parses_double_colon_files(write) -> None:
    ds = load_ml1m(_ml1m(write))
    assert ds.user_ids.tolist() == [1, 6] and ds.item_ids.tolist() == [3, 260]  # only rated movies
    assert ds.users.tolist() == [0, 0, 1] and ds.items.tolist() == [1, 0, 1]
    assert ds.ratings.tolist() == [5, 3, 4]
    assert ds.item_meta["title"].tolist() == ["Grumpier Old Men", "Star Wars: Episode IV - A New Hope"]
    assert ds.item_meta["year"].tolist() == [1995, 1977]
    assert ds.item_meta["genres"].tolist() == ["Comedy|Romance", "Action|Sci-Fi"]
    assert ds.user_meta.to_dict("list") == {
        "age": [1, 56],
        "gender": ["F", "M"],
        "occupation": ["K-12 student", "writer"],
        "zip": ["48067", "70072"],
    }


def test_ml1m_joins_melu_text_with_na_as_missing(write) -> None:
    folder = _ml1m(write)
    write(
        "ml-1m-melu/movies_extrainfos.dat",
        "260::Star Wars::1977::PG::25 May 1977::Action::George Lucas::George Lucas::"
        "Mark Hamill, Harrison Ford::Luke joins the Rebellion.::http://p\n"
        "3::Grumpier Old Men::1995::N/A::N/A::Comedy::Donald Petrie::N/A::Jack Lemmon::N/A::N/A\n",
        newline="\r\n",
    )
    meta = load_ml1m(folder).item_meta
    assert meta["director"].tolist() == ["Donald Petrie", "George Lucas"]
    assert meta["writer"].tolist() == ["", "George Lucas"]
    assert meta["cast"].tolist() == ["Jack Lemmon", "Mark Hamill, Harrison Ford"]
    assert meta["plot"].tolist() == ["", "Luke joins the Rebellion."]
    assert meta["rated"].tolist() == ["", "PG"]


def test_ml1m_unknown_occupation_code(write) -> None:
    folder = _ml1m(write)
    write("ml-1m/users.dat", "1::F::1::10::48067\n6::M::56::21::70072\n")
    with pytest.raises(DataError, match=r"users.dat: line 2: unknown occupation code"):
        load_ml1m(folder)


def test_ml_latest_small_titles_tags_links(write) -> None:
    write(
        "s/ratings.csv",
        "userId,movieId,rating,timestamp\n1,11,3.5,964982703\n1,2,4.0,964981247\n5,11,0.5,1\n",
        newline="\r\n",
    )
    write(
        "s/movies.csv",
        'movieId,title,genres\n2,Jumanji (1995),Adventure|Children\n11,"American President, The (1995)",'
        "(no genres listed)\n12,Babylon 5,Sci-Fi\n",
        newline="\r\n",
    )
    write(
        "s/tags.csv",
        'userId,movieId,tag,timestamp\n1,11,politics,1\n2,11,funny,2\n3,11,politics,3\n4,2,"game, board",4\n',
        newline="\r\n",
    )
    ds = load_ml_latest_small(
        write("s/links.csv", "movieId,imdbId,tmdbId\n2,0113497,8844\n11,0112346,\n").parent
    )
    assert ds.user_ids.tolist() == [1, 5] and ds.item_ids.tolist() == [2, 11]
    assert ds.users.tolist() == [0, 0, 1] and ds.items.tolist() == [1, 0, 1]
    assert ds.ratings.tolist() == [3.5, 4.0, 0.5]
    meta = ds.item_meta
    assert meta["title"].tolist() == ["Jumanji", "American President, The"]
    assert meta["year"].tolist() == [1995, 1995]
    assert meta["genres"].tolist() == ["Adventure|Children", ""]
    assert meta["tags"].tolist() == ["game, board", "politics, funny"]  # by count, then alphabetical
    assert meta["imdb_id"].tolist() == ["0113497", "0112346"]
    assert meta["tmdb_id"].tolist() == ["8844", ""]


def test_ml_latest_small_missing_column(write) -> None:
    write("s/ratings.csv", "userId,itemId,rating,timestamp\n1,11,3.5,9\n")
    with pytest.raises(DataError, match=r"ratings.csv: missing column\(s\) \['movieId'\]; columns present"):
        load_ml_latest_small(write("s/movies.csv", "movieId,title,genres\n").parent)


def test_lightgcn_format_with_empty_user_and_folds(write) -> None:
    write("g/train.txt", "0 0 1\n1 2\n2\n")
    write("g/test.txt", "0 2\n1 0\n")
    write("g/item_list.txt", "org_id remap_id\n900 0\n901 1\n902 2\n903 3\n")
    ds = load_gowalla(write("g/user_list.txt", "org_id remap_id\nab 0\ncd 1\nef 2\n").parent)
    assert ds.user_ids.tolist() == [0, 1, 2] and ds.item_ids.tolist() == [0, 1, 2, 3]  # item 3 unseen
    assert ds.users.tolist() == [0, 0, 1, 0, 1] and ds.items.tolist() == [0, 1, 2, 2, 0]
    assert ds.folds.tolist() == [TRAIN, TRAIN, TRAIN, TEST, TEST]
    assert ds.ratings is None and ds.timestamps is None
    assert ds.item_meta["title"].tolist() == ["", "", "", ""]
    assert ds.item_meta["org_id"].tolist() == ["900", "901", "902", "903"]
    assert ds.user_meta["org_id"].tolist() == ["ab", "cd", "ef"]


def test_lightgcnpp_reads_valid_fold(write) -> None:
    write("p/train.txt", "0 0 1\n1 1\n")
    write("p/valid.txt", "0 2\n")
    ds = load_ml1m_lightgcnpp(write("p/test.txt", "1 0\n").parent)
    assert ds.folds.tolist() == [TRAIN, TRAIN, TRAIN, VALID, TEST]
    assert (ds.n_users, ds.n_items) == (2, 3)


def test_lightgcn_bad_token_names_line(write) -> None:
    write("g/train.txt", "0 0 1\n1 2 x3\n")
    write("g/test.txt", "0 2\n")
    with pytest.raises(DataError, match=r"train.txt: line 2: 'x3' is not a non-negative integer id"):
        load_gowalla(write("g/test.txt", "0 2\n").parent)


def test_netflix_drops_valid_identical_to_test_and_keeps_official_id_space(write) -> None:
    write("n/train.json", json.dumps({"0": [5, 7], "2": [7]}))
    test = json.dumps({"0": [9], "1": [], "2": []})
    write("n/test.json", test)
    write(
        "n/DERIVED_item_title_year_roworder.tsv", 'row\ttitle\tyear\n0\t"Quoted" Title\t1986\n1\tNo Year\t\n'
    )
    ds = load_netflix(write("n/val.json", test).parent)
    assert (ds.n_users, ds.n_items) == (N_USERS, N_ITEMS) == (13187, 17366)
    assert ds.users.tolist() == [0, 0, 2, 0] and ds.items.tolist() == [5, 7, 7, 9]
    assert ds.folds.tolist() == [TRAIN, TRAIN, TRAIN, TEST]
    assert any("identical to test.json" in n for n in ds.notes)
    assert any("UNVERIFIED" in n for n in ds.notes)
    assert ds.item_meta["title"].iloc[:3].tolist() == ['"Quoted" Title', "No Year", ""]
    assert ds.item_meta["year"].iloc[:2].tolist() == [1986, pd.NA]


def test_netflix_uses_a_distinct_val_file(write) -> None:
    write("n/train.json", json.dumps({"0": [5, 7]}))
    write("n/test.json", json.dumps({"0": [9]}))
    ds = load_netflix(write("n/val.json", json.dumps({"0": [8]})).parent)
    assert ds.folds.tolist() == [TRAIN, TRAIN, TEST, VALID]
    assert not any("identical" in n for n in ds.notes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"0": [1,\n 2,]}', r"train.json: line 2: invalid JSON"),
        ('{"0": [1, "2"]}', r"train.json: user '0': expected"),
        ('{"a": [1]}', r"train.json: user 'a': expected"),
    ],
)
def test_netflix_malformed_json(write, text: str, message: str) -> None:
    write("n/test.json", "{}")
    with pytest.raises(DataError, match=message):
        load_netflix(write("n/train.json", text).parent)


def _lastfm(write) -> Path:
    write(
        "l/user_artists.dat", "userID\tartistID\tweight\n2\t51\t13883\n2\t52\t1\n7\t51\t3\n", newline="\r\n"
    )
    write(
        "l/artists.dat", 'id\tname\turl\tpictureURL\n51\tMALICE "MIZER"\thttp://a\t\n52\tBjörk\thttp://b\t\n'
    )
    write("l/tags.dat", "tagID\ttagValue\n1\tmetal\n2\tj-rock\n3\tgöth\n", encoding="latin-1", newline="\r\n")
    return write(
        "l/user_taggedartists.dat",
        "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t51\t2\t1\t4\t2009\n7\t51\t1\t1\t4\t2009\n"
        "9\t51\t2\t1\t4\t2009\n2\t52\t3\t1\t4\t2009\n2\t99\t1\t1\t4\t2009\n",
    ).parent


def test_lastfm_weights_names_and_top_tags(write) -> None:
    ds = load_lastfm(_lastfm(write))
    assert ds.user_ids.tolist() == [2, 7] and ds.item_ids.tolist() == [51, 52]
    assert ds.users.tolist() == [0, 0, 1] and ds.items.tolist() == [0, 1, 0]
    assert ds.ratings.tolist() == [13883, 1, 3]
    assert ds.item_meta["title"].tolist() == ['MALICE "MIZER"', "Björk"]
    assert ds.item_meta["tags"].tolist() == ["j-rock, metal", "göth"]
    assert ds.notes == []


def test_lastfm_notes_the_reconstructed_taggings(write) -> None:
    folder = _lastfm(write)
    (folder / "user_taggedartists.dat").rename(folder / "user_taggedartists.reconstructed.dat")
    ds = load_lastfm(folder)
    assert ds.item_meta["tags"].tolist() == ["j-rock, metal", "göth"]
    assert len(ds.notes) == 1 and "reconstructed" in ds.notes[0]


def _custom_config(tmp_path: Path, **kw: object) -> DataConfig:
    base = {"dataset": "custom", "path": str(tmp_path / "events.csv"), "user_col": "u", "item_col": "i"}
    return DataConfig(**{**base, **kw})


def test_custom_csv_with_string_ids_ratings_dates_and_items(write, tmp_path: Path) -> None:
    write("events.csv", "u;i;r;t\nann;m2;4;2020-01-02\nbob;m1;2.5;2020-01-01T00:00:10Z\n")
    write("items.csv", "i;name;year;plot\nm1;One;1999;x\nm2;Two;;y\nm3;Three;2001;z\n")
    config = _custom_config(
        tmp_path,
        sep=";",
        rating_col="r",
        time_col="t",
        items_path=str(tmp_path / "items.csv"),
        item_title_col="name",
    )
    ds = load_custom(config)
    assert ds.user_ids.tolist() == ["ann", "bob"] and ds.item_ids.tolist() == ["m1", "m2"]
    assert ds.users.tolist() == [0, 1] and ds.items.tolist() == [1, 0]
    assert ds.ratings.tolist() == [4.0, 2.5]
    assert ds.timestamps.tolist() == [1577923200, 1577836810]
    meta = ds.item_meta
    assert list(meta.columns) == ["title", "year", "genres", "plot"]
    assert meta["title"].tolist() == ["One", "Two"] and meta["year"].tolist() == [1999, pd.NA]
    assert meta["genres"].tolist() == ["", ""] and meta["plot"].tolist() == ["x", "y"]


def test_custom_parquet_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"u": [3, 1, 3], "i": [10, 10, 20], "ts": [5, 6, 7]})
    frame.to_parquet(tmp_path / "events.parquet")
    ds = load_custom(_custom_config(tmp_path, path=str(tmp_path / "events.parquet"), time_col="ts"))
    assert ds.user_ids.tolist() == [1, 3] and ds.item_ids.tolist() == [10, 20]
    assert ds.users.tolist() == [1, 0, 1] and ds.items.tolist() == [0, 0, 1]
    assert ds.timestamps.tolist() == [5, 6, 7] and ds.ratings is None


def test_custom_parquet_without_pyarrow_says_how_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # makes the import fail
    with pytest.raises(DataError, match=r"needs pyarrow"):
        load_custom(_custom_config(tmp_path, path=str(tmp_path / "events.parquet")))


@pytest.mark.parametrize(
    ("text", "kw", "message"),
    [
        ("u,x\n1,2\n", {}, r"events.csv: missing column\(s\) \['i'\]; columns present: \['u', 'x'\]"),
        ("u,i,r\n1,2,5\n1,3,good\n", {"rating_col": "r"}, r"events.csv: line 3: r is 'good', not a number"),
        ("u,i\n1,2\n,3\n", {}, r"events.csv: line 3: u is missing"),
        ("u,i,r\n1,2,nan\n", {"rating_col": "r"}, r"events.csv: line 2: r is 'nan', not a number"),
        ("u,i,t\n1,2,yesterday\n", {"time_col": "t"}, r"events.csv: line 2: t 'yesterday' is not a time"),
    ],
)
def test_custom_malformed(write, tmp_path: Path, text: str, kw: dict, message: str) -> None:
    write("events.csv", text)
    with pytest.raises(DataError, match=message):
        load_custom(_custom_config(tmp_path, **kw))


def test_custom_zero_padded_ids_stay_distinct_strings(write, tmp_path: Path) -> None:
    write("events.csv", "u,i\n007,1\n7,1\n")
    ds = load_custom(_custom_config(tmp_path))
    assert ds.user_ids.tolist() == ["007", "7"] and ds.item_ids.tolist() == [1]


def test_custom_missing_file_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"events.csv: file not found"):
        load_custom(_custom_config(tmp_path))
    with pytest.raises(ConfigError, match=r"needs data.path"):
        load_custom(DataConfig(dataset="custom"))


def test_custom_item_title_column_must_exist(write, tmp_path: Path) -> None:
    write("events.csv", "u,i\n1,2\n")
    write("items.csv", "i,name\n2,Two\n")
    with pytest.raises(DataError, match=r"items.csv: missing column\(s\) \['title'\]"):
        load_custom(_custom_config(tmp_path, items_path=str(tmp_path / "items.csv")))


def test_item_meta_schema_is_shared(write) -> None:
    write("g/train.txt", "0 0\n")
    meta = load_gowalla(write("g/test.txt", "0 1\n").parent).item_meta
    assert list(meta.columns[:3]) == ["title", "year", "genres"]
    assert str(meta["year"].dtype) == "Int64"
    assert np.array_equal(meta.index, np.arange(2))
