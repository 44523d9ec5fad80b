"""Retrieval end to end on a toy corpus, and the trust gate's decisions."""

from __future__ import annotations

import pandas as pd
import pytest

from llmrec.errors import ConfigError
from llmrec.retrieval import (
    Corpus,
    CorpusSpec,
    CorpusStats,
    GateConfig,
    Match,
    Retriever,
    RetrieverConfig,
    build_query,
    judge,
    load_corpus,
    retrieve_items,
)
from llmrec.retrieval.text import title_variants
from tests.retrieval.conftest import MOVIES_CSV, HashingEncoder, Writer

SPEC = CorpusSpec(id_column="id", title_column="title", year_column="year", text_columns=("plot",))


def _items(*rows: tuple[str, int | None, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["title", "year", "genres"])
    frame["year"] = frame["year"].astype("Int64")
    return frame.set_axis([f"i{n}" for n in range(len(rows))])


@pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
def test_movielens_titles_find_their_documents(write: Writer, encoder: HashingEncoder, mode: str) -> None:
    corpus = load_corpus(write("docs.csv", MOVIES_CSV), SPEC)
    retriever = Retriever(corpus, encoder, RetrieverConfig(mode=mode))  # type: ignore[arg-type]
    queries = [
        build_query("Shawshank Redemption, The (1994)"),
        build_query("Sabrina (1995)", genres="Comedy"),
    ]
    matches = retriever.search(queries, k=3)
    assert [m[0].doc_id for m in matches] == ["1", "3"]
    assert matches[1][0].rank == 1 and queries[1].genres == ("Comedy",)


def test_gate_rejects_a_wrong_year_match(write: Writer) -> None:
    only_1954 = write("one.csv", "id,title,year,plot\n2,Sabrina,1954,A playboy.\n")
    retriever = Retriever(load_corpus(only_1954, SPEC), None, RetrieverConfig(mode="lexical"))
    result = retrieve_items(_items(("Sabrina", 1995, "Comedy")), retriever, GateConfig())
    decision = result.decisions[0]
    assert decision.outcome == "year" and decision.year_gap == 41 and decision.match is not None
    assert decision.match.doc_id == "2"  # recorded as the rejected candidate, never accepted
    assert result.passages == [None] and result.audit["year"] == 1 and result.audit["accepted"] == 0
    assert result.to_frame().loc["i0", "doc_id"] is None


def test_gate_accepts_the_right_remake_and_the_passage_is_easy_to_take(write: Writer) -> None:
    retriever = Retriever(
        load_corpus(write("docs.csv", MOVIES_CSV), SPEC), None, RetrieverConfig(mode="lexical")
    )
    items = _items(
        ("Sabrina", 1995, "Comedy|Romance"),
        ("Twelve Monkeys", 1995, "Sci-Fi"),
        ("Postino, Il", 1994, "Drama"),
        ("Heat", 1995, "Action"),  # not in the corpus: only its year token matches other 1995 films
        ("unknown", None, ""),  # MovieLens' placeholder item
    )
    result = retrieve_items(items, retriever, GateConfig())
    assert [d.outcome for d in result.decisions] == ["accepted", "accepted", "accepted", "title",
                                                     "no_candidate"]  # fmt: skip
    assert result.texts()["i0"].startswith("Sabrina (1995)\nplot: An ugly duckling")
    assert result.passage_of("i1") is not None and result.passage_of("i3") is None
    assert result.audit == {"items": 5, "accepted": 3, "no_candidate": 1, "title": 1, "year": 0,
                            "no_year": 0, "ambiguous": 0}  # fmt: skip


def _match(doc: int, title: str, year: int | None, rank: int) -> Match:
    return Match(doc, str(doc), title, year, 1.0 / rank, None, None, rank)


def test_judge_title_scan_margin_and_missing_year() -> None:
    titles = ["The Whole Nine Yards", "The Yards", "Yards", "Yard"]
    forms = [title_variants(t) for t in titles]
    query = build_query("Yards, The (2000)")
    ranked = [_match(0, titles[0], 2000, 1), _match(1, titles[1], 1999, 2)]
    # the best match fails the title check; the second is within the year gap
    assert judge(query, ranked, forms, GateConfig(scan=1)).outcome == "title"
    accepted = judge(query, ranked, forms, GateConfig(scan=2))
    assert accepted.outcome == "accepted" and accepted.match is not None and accepted.match.doc_id == "1"
    # a different film that also passes, as close in title: ambiguous
    rival = [_match(1, titles[1], 1999, 1), _match(3, titles[3], 2000, 2)]
    assert (
        judge(query, rival, forms, GateConfig(min_title_similarity=0.8, min_margin=0.2)).outcome
        == "ambiguous"
    )
    assert (
        judge(query, rival, forms, GateConfig(min_title_similarity=0.8, min_margin=0.0)).outcome == "accepted"
    )
    # the same film listed twice (same title and year) is not a rival
    twice = [_match(1, titles[1], 1999, 1), _match(2, titles[2], 1999, 2)]
    assert judge(query, twice, forms, GateConfig()).outcome == "accepted"
    no_year = [_match(1, titles[1], None, 1)]
    assert judge(query, no_year, forms, GateConfig()).outcome == "accepted"
    assert judge(query, no_year, forms, GateConfig(require_year=True)).outcome == "no_year"


def test_a_weak_title_match_needs_the_same_year() -> None:
    forms = [title_variants("Shanghai Triad")]
    query = build_query("Shanghai Grand (1996)")
    ranked = [_match(0, "Shanghai Triad", 1995, 1)]
    weak = judge(query, ranked, forms, GateConfig())  # "shanghai grand" vs "shanghai triad": 12/14 alike
    assert weak.outcome == "year" and weak.title_similarity == pytest.approx(12 / 14) and weak.year_gap == 1
    assert judge(query, ranked, forms, GateConfig(exact_year_below=0.0)).outcome == "accepted"
    unknown = [_match(0, "Shanghai Triad", None, 1)]  # a weak match cannot lean on an unknown year
    assert judge(query, unknown, forms, GateConfig()).outcome == "no_year"
    assert judge(query, unknown, forms, GateConfig(exact_year_below=0.0)).outcome == "accepted"


def test_bad_knobs_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="scan"):
        GateConfig(scan=0)
    with pytest.raises(ConfigError, match="fusion"):
        RetrieverConfig(fusion="max")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a text encoder"):
        Retriever(Corpus((), (), (), {}, CorpusStats("none")), None, RetrieverConfig())
