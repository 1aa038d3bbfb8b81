#!/usr/bin/env bash
# Regenerate docs/img/report-funnel.png: the report of a funnel run (nuts, vae-gibbs, vae-imh, vae-is; 32 chains
# x 10,000 draws, seed 0) rendered by headless Chromium 1400 px wide, after checking every figure of that report
# for layout faults (bench.report.layout.collisions).
#
#   scripts/report_screenshot.sh [RESULTS]   RESULTS: the run's folder (default results/report-funnel); a folder
#                                            that already holds the run's records is reused (the run is skipped)
# PYTHON (default python) runs the suite; CHROMIUM (default chromium) renders the page.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
BROWSER=${CHROMIUM:-chromium}
RESULTS=${1:-results/report-funnel}
SHOT=docs/img/report-funnel.png
command -v "$BROWSER" >/dev/null || { echo "no $BROWSER on PATH (Debian: apt-get install chromium); set CHROMIUM=" >&2; exit 2; }

if ! ls "$RESULTS"/runs/funnel/*/*/record.json >/dev/null 2>&1; then
  "$PY" -m bench run --target funnel --sampler nuts,vae-gibbs,vae-imh,vae-is --chains 32 --draws 10000 \
    --seeds 0 --out "$RESULTS" --no-progress
fi

# the report, each figure checked for overlapping texts, axes outside the figure and legends over other axes
"$PY" - "$RESULTS" <<'EOF'
import pathlib, sys
from bench.report import layout, page
faults, original = [], page._figure
def checked(out, stem, fig, caption):
    faults.extend(f"{stem}: {line}" for line in layout.collisions(fig))
    return original(out, stem, fig, caption)
page._figure = checked
print("report:", page.write_report(pathlib.Path(sys.argv[1])))
if faults:
    sys.exit("layout faults:\n" + "\n".join(faults))
EOF

# headless Chromium, 1400 px wide, a window taller than the page; the blank rows below it are cropped
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$BROWSER" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
  --window-size=1400,16000 --virtual-time-budget=10000 --screenshot="$profile/page.png" \
  "file://$(realpath "$RESULTS")/report/index.html" 2>/dev/null
mkdir -p "$(dirname "$SHOT")"
"$PY" - "$profile/page.png" "$SHOT" <<'EOF'
import sys
import numpy as np
from PIL import Image
image = Image.open(sys.argv[1]).convert("RGB")
rows = np.flatnonzero((np.asarray(image) < 250).any(axis=(1, 2)))
image = image.crop((0, 0, image.width, int(rows[-1]) + 20))
image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(sys.argv[2], optimize=True)
print(f"screenshot: {sys.argv[2]} ({image.width} x {image.height} px)")
EOF
