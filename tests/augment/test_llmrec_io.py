"""LLMRec's released layout: export, import back, the same augmentations; and no code runs on unpickling."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from llmrec.augment.artefacts import read_attributes, read_edges, read_profiles
from llmrec.augment.audit import format_audit
from llmrec.augment.config import AugmentConfig
from llmrec.augment.inputs import load_inputs
from llmrec.augment.llmrec_io import (
    ATTRIBUTES,
    PROFILES,
    SAMPLES,
    TOTAL_EMBEDDING,
    USER_EMBEDDING,
    import_edges,
    import_profiles,
    safe_load,
)
from llmrec.augment.stage import export_run
from llmrec.errors import DataError
from llmrec.inference import augment_run, base_run
from llmrec.llm.testing import FakeOpenAIServer
from llmrec.rundir import load_split

from .test_llm_path import _configs, answer


class Exploit:
    """Unpickling this with plain pickle would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return os.system, (f"touch {self.marker}",)


def test_refuses_code_in_a_pickle(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / SAMPLES
    path.write_bytes(pickle.dumps({0: Exploit(marker)}))
    with pytest.raises(DataError, match="refusing to load .*system"):
        safe_load(path)
    assert not marker.exists()


def test_reads_numpy_arrays_and_scalars(tmp_path: Path) -> None:
    data = {
        0: {0: np.int64(3), 1: 4},
        "v": np.arange(3, dtype=np.float32),
        "s": np.float64(0.5),
        "t": (1, "a"),
    }
    path = tmp_path / "x"
    path.write_bytes(pickle.dumps(data, protocol=4))
    back = safe_load(path)
    assert back[0] == {0: 3, 1: 4} and back["v"].tolist() == [0.0, 1.0, 2.0] and back["s"] == 0.5
    assert back["t"] == (1, "a")
    path.write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="not a readable LLMRec file"):
        safe_load(path)


def test_import_counts_what_it_cannot_use(toy_run: Path, tmp_path: Path) -> None:
    inputs = load_inputs(toy_run, load_split(toy_run), "movie")
    folder = tmp_path / "release"
    folder.mkdir()
    samples = {
        0: {0: 1, 1: 2},
        1: {0: 3, 1: 3},
        2: {0: 12, 1: 12},
        3: [4, 5],
        4: {0: "a", 1: 2},
        99: {0: 1, 1: 2},
    }
    (folder / SAMPLES).write_bytes(pickle.dumps(samples))
    edges = import_edges(folder, inputs)
    assert edges is not None
    assert list(zip(edges.users.tolist(), edges.pos.tolist(), edges.neg.tolist(), strict=True)) == [
        (0, 1, 2), (3, 4, 5),
    ]  # fmt: skip
    assert edges.report["invalid_imported"] == {"same_item": 1, "out_of_range": 2, "format": 1}
    profiles = {0: "{'age': 30, 'gender': 'F', 'liked genre': 'Drama', 'disliked genre': '', "
                   "'liked directors': '', 'country': 'USA', 'language': 'en'}",
                1: "I could not work this user out."}  # fmt: skip
    (folder / PROFILES).write_bytes(pickle.dumps(profiles))
    result = import_profiles(folder, inputs)
    assert result is not None and result.report["invalid_imported"] == {"format": 1}
    # u0's age and gender are stated by the dataset (20, M): they win over the release's
    assert result.profiles[0] == {
        "age": 20, "gender": "male", "liked_genres": ["Drama"], "disliked_genres": [], "liked_directors": [],
        "country": "United States", "language": "English", "summary": "",
    }  # fmt: skip
    assert import_edges(tmp_path, inputs) is None  # no file, no edges


@pytest.fixture
def server():
    with FakeOpenAIServer(answer=answer, models={"chat-m", "embed-m"}) as fake:
        yield fake


def test_export_then_import_gives_the_same_augmentation(
    toy_run: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    aug, llm = _configs(server, tmp_path)
    augment_run(toy_run, aug, llm, env={}, show_progress=False)
    release = tmp_path / "release"
    files = export_run(base_run(toy_run), aug, toy_run / "augment", release)
    assert set(files) == {
        SAMPLES, ATTRIBUTES, "augmented_item_attribute_agg.csv", PROFILES, USER_EMBEDDING,
        "augmented_atttribute_embedding_dict", TOTAL_EMBEDDING,
    }  # fmt: skip
    samples = safe_load(release / SAMPLES)
    assert samples[0] == {0: 0, 1: 1} and samples[6] == {0: 12, 1: 12}  # u6 has no pair: LLMRec's marker
    assert safe_load(release / ATTRIBUTES)[0] == {0: "Director A", 1: "United States", 2: "English"}
    assert safe_load(release / TOTAL_EMBEDDING)["country"].shape == (12, 8)
    agg = (release / "augmented_item_attribute_agg.csv").read_text().splitlines()
    assert agg[0] == "0,Film 0,Comedy,Director A,United States,English"

    imported = AugmentConfig(**{**aug.__dict__, "teacher": "llmrec", "import_dir": str(release)})
    requests = server.requests
    audit = augment_run(toy_run, imported, llm, env={}, out=tmp_path / "imported", show_progress=False)
    assert server.requests == requests  # nothing asked: the text embeddings are cached too
    assert audit["teacher"] == {
        "kind": "llm",
        "backend": "llmrec-release",
        "model": "unknown",
        "source": str(release),
    }
    assert audit["edges"]["invalid_imported"] == {"out_of_range": 4}  # the four users without a pair
    assert "imported 9 entries from LLMRec's files; unusable: out_of_range 4" in format_audit(audit)
    original, back = read_edges(toy_run / "augment"), read_edges(tmp_path / "imported")
    for key in ("user", "pos", "neg", "user_id", "pos_id", "neg_id"):
        assert back[key].tolist() == original[key].tolist()
    columns = ["item_id", "director", "country", "language"]
    assert read_attributes(tmp_path / "imported")[columns].equals(
        read_attributes(toy_run / "augment")[columns]
    )
    assert read_profiles(tmp_path / "imported") == read_profiles(toy_run / "augment")
