#!/usr/bin/env bash
# Install ncnnlike from this checkout, then run the sample flow end to end on EfficientNet-Lite0.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e .
python3 samples/quickstart.py "$@"
