"""Loading a corpus: every format, both presets, and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from llmrec.errors import DataError
from llmrec.retrieval.corpus import IMDB_DETAILS, MELU, CorpusSpec, load_corpus
from tests.retrieval.conftest import MOVIES_CSV, Writer

SPEC = CorpusSpec(id_column="id", title_column="title", year_column="year", text_columns=("plot",))


def test_csv_round_trip_and_passage(write: Writer) -> None:
    corpus = load_corpus(write("docs.csv", MOVIES_CSV), SPEC)
    assert corpus.ids == ("1", "2", "3", "4", "5")
    assert corpus.years[:3] == (1994, 1954, 1995)
    assert corpus.stats.kept == 5 and corpus.stats.rows == 5
    assert corpus.passage(1).splitlines() == [
        "Sabrina (1954)", "plot: A playboy becomes interested in the daughter of his family's chauffeur.",
    ]  # fmt: skip


def test_tsv_jsonl_and_parquet_read_alike(write: Writer, tmp_path: Path) -> None:
    frame = pd.read_csv(write("docs.csv", MOVIES_CSV), dtype=str)
    tsv = write("docs.tsv", frame.to_csv(sep="\t", index=False))
    jsonl = write("docs.jsonl", "\n".join(json.dumps(r) for r in frame.to_dict("records")) + "\n")
    frame.to_parquet(tmp_path / "docs.parquet")
    loaded = [load_corpus(p, SPEC) for p in (tsv, jsonl, tmp_path / "docs.parquet")]
    assert all(c.ids == loaded[0].ids and c.years == loaded[0].years for c in loaded)
    assert loaded[1].fields["plot"][3].startswith("A convict")


def test_year_from_title_when_there_is_no_year_column(write: Writer) -> None:
    path = write("docs.csv", "id,title,plot\n7,Twelve Monkeys (1995),Time travel.\n8,Heat,Cops.\n")
    corpus = load_corpus(path, CorpusSpec(text_columns=("plot",)))
    assert corpus.years == (1995, None)


def test_missing_column_lists_the_columns_found(write: Writer) -> None:
    path = write("docs.csv", "id,name,plot\n1,Heat,Cops.\n")
    with pytest.raises(
        DataError, match=r"docs.csv: missing column\(s\) \['title'\].*\['id', 'name', 'plot'\]"
    ):
        load_corpus(path, CorpusSpec(text_columns=("plot",)))
    jsonl = write("docs.jsonl", '{"id": 1, "plot": "Cops."}\n')
    with pytest.raises(
        DataError, match=r"missing column\(s\) \['title'\]; columns present: \['id', 'plot'\]"
    ):
        load_corpus(jsonl, CorpusSpec(text_columns=("plot",)))


def test_duplicate_ids_are_counted_or_an_error(write: Writer) -> None:
    path = write("docs.csv", "id,title,plot\n1,Heat,Cops.\n1,Heat,Cops again.\n2,Ronin,Spies.\n")
    corpus = load_corpus(path, CorpusSpec(text_columns=("plot",)))
    assert corpus.ids == ("1", "2") and corpus.fields["plot"][0] == "Cops."  # the first row wins
    assert corpus.stats.duplicate_ids == 1 and corpus.stats.first_duplicates == ["1"]
    with pytest.raises(DataError, match=r"docs.csv: line 3: duplicate id '1'"):
        load_corpus(path, CorpusSpec(text_columns=("plot",), duplicates="error"))


def test_empty_text_is_counted_and_skipped(write: Writer) -> None:
    path = write("docs.csv", "id,title,plot,cast\n1,Heat,,\n2,Ronin,N/A,\n3,Alien,,Sigourney Weaver\n")
    corpus = load_corpus(path, CorpusSpec(text_columns=("plot", "cast")))
    assert corpus.ids == ("3",) and corpus.stats.empty_text == 2


def test_non_utf8_bytes_name_the_line(write: Writer) -> None:
    path = write("docs.csv", b"id,title,plot\n1,Heat,Cops.\n2,Am\xe9lie,Paris.\n")
    with pytest.raises(DataError, match=r"docs.csv: line 3: not valid utf-8 text"):
        load_corpus(path, CorpusSpec(text_columns=("plot",)))
    latin = load_corpus(path, CorpusSpec(text_columns=("plot",), encoding="latin-1"))
    assert latin.titles[1] == "Amélie"  # a file in another encoding is read by declaring it
    jsonl = write("docs.jsonl", b'{"id": 1, "title": "Am\xe9lie", "plot": "x"}\n')
    with pytest.raises(DataError, match=r"docs.jsonl: line 1: not valid utf-8 text"):
        load_corpus(jsonl, CorpusSpec(text_columns=("plot",)))


def test_malformed_rows_and_unknown_formats(write: Writer) -> None:
    with pytest.raises(DataError, match=r"docs.jsonl: line 2: invalid JSON"):
        load_corpus(write("docs.jsonl", '{"id": 1, "title": "Heat"}\n{"id": 2,\n'), SPEC)
    with pytest.raises(DataError, match=r"docs.jsonl: line 1: expected a JSON object"):
        load_corpus(write("docs.jsonl", "[1, 2]\n"), SPEC)
    with pytest.raises(DataError, match=r"docs.csv: line 3: expected 4 fields, found 5"):
        load_corpus(
            write("docs.csv", "id,title,year,plot\n1,Heat,1995,Cops\n2,Ronin,1998,Spies,extra\n"), SPEC
        )
    with pytest.raises(DataError, match=r"unknown corpus format '.xml'"):
        load_corpus(write("docs.xml", "<docs/>"), SPEC)
    with pytest.raises(DataError, match="file not found"):
        load_corpus(Path("/nonexistent/docs.csv"), SPEC)
    with pytest.raises(DataError, match="id column or a title column"):
        CorpusSpec(id_column=None, title_column=None)


def test_presets_read_their_formats(write: Writer) -> None:
    placeholder = IMDB_DETAILS.null_values[-1].replace('"', '""')
    imdb = write(
        "details.csv",
        "movie_genres,movie_id,movie_title,poster_url,movie_url,description,rating,num_review,director,"
        "writer,cast,age_rating,year,movie_length,genre\n"
        '"[7]",197,"Graduate, The (1967)",[],u,"A graduate is seduced.",8.0,1K,[\'Mike Nichols\'],'
        "\"['Calder Willingham', 'nan']\",['Anne Bancroft'],PG,1967.0,1h 46min,\"['Comedy', 'Drama']\"\n"
        f'"[1]",5,Copycat (1995),[],u,"{placeholder}",6.6,1K,[],[],[],R,Episode aired Apr 3 2014,,[]\n',
    )
    corpus = load_corpus(imdb, IMDB_DETAILS)
    assert corpus.ids == ("197", "5") and corpus.years == (1967, 2014)  # the scraped year, not the title's
    assert corpus.fields["writer"][0] == "Calder Willingham" and corpus.fields["genre"][0] == "Comedy, Drama"
    assert corpus.fields["description"][1] == ""  # IMDb's "no plot yet" text is a placeholder
    melu = write(
        "movies_extrainfos.dat",
        "1::Toy Story::1995::G::22 Nov 1995::Animation::John Lasseter::J. Whedon::T. Hanks::Toys live.::u\r\n"
        "2::Heat::1995::R::15 Dec 1995::Crime::Michael Mann::Michael Mann::Al Pacino::N/A::u\r\n",
    )
    corpus = load_corpus(melu, MELU)
    assert corpus.titles == ("Toy Story", "Heat") and corpus.years == (1995, 1995)
    assert corpus.fields["plot"] == ("Toys live.", "") and corpus.fields["director"][1] == "Michael Mann"
