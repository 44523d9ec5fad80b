#!/usr/bin/env bash
# Creates .bench-venv-recbole: RecBole 1.2.1 for benchmarks/recbole_ml1m.py only (never a dependency
# of llmrec itself). Idempotent: a venv whose marker matches these pins is left alone.
#
# Why each pin (see ../shared/PEERS.md):
#   torch==2.13.0 first   the machine's pip config resolves it to the local CPU wheel; installed later,
#                         or unpinned, pip may pick a CUDA build and pull gigabytes of nvidia-* wheels.
#                         It stays pinned (constraint file) while the rest is installed.
#   setuptools<81         ray 2.6 (imported by recbole.quick_start) still imports pkg_resources.
#   numpy==1.23.5         RecBole 1.2.1's metrics use the np.float alias (recbole/evaluator/metrics.py),
#                         removed in numpy 1.24: numpy<2 is not enough: NDCG and MRR crash on 1.24+ ...
#   pandas/scipy/sklearn  ... so these are builds that work with numpy 1.23.
#   scipy<1.12            RecBole's LightGCN builds its graph with dok_matrix._update, gone in scipy 1.12.
#   ray<=2.6.3 etc.       RecBole's own requirements: recbole.quick_start imports ray at import time;
#                         recbole.utils imports tensorboard, texttable, thop, psutil, colorlog, colorama.
# Usage: bash benchmarks/recbole_env.sh   (from the repository root or anywhere)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.bench-venv-recbole"
PY="${PYTHON:-python3}"
TORCH="torch==2.13.0"
PINS=(
  "recbole==1.2.1"
  "setuptools<81"
  "numpy==1.23.5"
  "scipy==1.11.4"
  "pandas==2.2.3"
  "scikit-learn==1.5.2"
  "ray==2.6.3"
  "colorlog==4.7.2"
  "colorama==0.4.4"
  "tensorboard"
  "thop"
  "tabulate"
  "texttable"
  "plotly"
  "psutil"
  "pyyaml"
  "tqdm"
)
STAMP="$(printf '%s\n' "$TORCH" "${PINS[@]}" | sha256sum | cut -c1-16)"
MARKER="$VENV/.llmrec-bench-ready"

start=$(date +%s)
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$STAMP" ]] \
  && "$VENV/bin/python" -c 'import numpy, scipy, recbole, torch; assert hasattr(numpy, "float") and scipy.__version__ < "1.12"' 2>/dev/null; then
  echo "recbole_env: $VENV is ready (pins $STAMP); nothing to do"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install --upgrade "pip" "setuptools<81" wheel

# 1. torch alone, first: it must be the local CPU wheel.
"${PIP[@]}" install "$TORCH"
"$VENV/bin/python" - <<'EOF'
import torch
assert torch.__version__.startswith("2.13.0"), torch.__version__
assert not torch.version.cuda, f"a CUDA torch was installed ({torch.version.cuda}); expected the CPU wheel"
print("recbole_env: torch", torch.__version__, "(CPU)")
EOF

# 2. Everything else, with torch held at the installed version. A dry run first, so nothing is
# downloaded when the resolution would replace torch or add nvidia-* packages.
CONSTRAINTS="$VENV/constraints.txt"
echo "$TORCH" >"$CONSTRAINTS"
REPORT="$VENV/pip-dry-run.json"
"${PIP[@]}" install --dry-run --quiet --report "$REPORT" -c "$CONSTRAINTS" "${PINS[@]}"
"$VENV/bin/python" - "$REPORT" <<'EOF'
import json, sys
names = [i["metadata"]["name"].lower() for i in json.load(open(sys.argv[1]))["install"]]
bad = [n for n in names if n.startswith("nvidia") or n in ("torch", "triton")]
if bad:
    sys.exit(f"recbole_env: refusing to install {bad}: they would replace the CPU torch")
print(f"recbole_env: installing {len(names)} packages: {' '.join(sorted(names))}")
EOF
"${PIP[@]}" install -c "$CONSTRAINTS" "${PINS[@]}"

# 3. Check that RecBole's modules used by the benchmark import, and record the pins.
TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 "$VENV/bin/python" - <<'EOF'
import numpy, scipy, torch
assert hasattr(numpy, "float"), "RecBole's metrics need numpy < 1.24 (np.float)"
assert scipy.__version__ < "1.12", "RecBole's LightGCN needs scipy < 1.12 (dok_matrix._update)"
import recbole
from recbole.config import Config  # noqa: F401
from recbole.data import create_dataset, data_preparation  # noqa: F401
from recbole.model.general_recommender import BPR, LightGCN  # noqa: F401
from recbole.quick_start import run_recbole  # noqa: F401  (imports ray)
from recbole.trainer import Trainer  # noqa: F401
from recbole.utils import init_logger, init_seed  # noqa: F401
print(f"recbole_env: recbole {recbole.__version__}, torch {torch.__version__}, "
      f"numpy {numpy.__version__}, scipy {scipy.__version__}")
EOF
"${PIP[@]}" freeze >"$VENV/freeze.txt"
echo "$STAMP" >"$MARKER"
echo "recbole_env: set up $VENV in $(( $(date +%s) - start )) s"
