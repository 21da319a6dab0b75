"""`curate export megatron`: a curate output's token shards as Megatron-LM indexed datasets (MMIDIDX v1 .bin/.idx).

One prefix per domain holds that domain's training documents, one `validation` prefix all validation documents; every
document is one sequence and ends with its single EOS (what Megatron's preprocess_data.py makes with --append-eod).
`data-path.txt` gives the Megatron arguments for the manifest's (achieved) mixture. Megatron-LM repeats a short
domain as often as its weight needs: the manifest's `max_epochs` is not enforced there.

The .idx layout (little-endian), as Megatron-LM's `megatron/core/datasets/indexed_dataset.py` (_IndexWriter) writes it:
  9 bytes   magic b"MMIDIDX\\x00\\x00"
  uint64    version, 1
  uint8     dtype code of the .bin tokens: 8 = uint16 (vocabulary < 65,500 entries), 4 = int32 otherwise
  uint64    sequence count S
  uint64    document count D (= S + 1: the document indices start with 0)
  int32[S]  sequence lengths in tokens
  int64[S]  sequence pointers: byte offset of each sequence in the .bin
  int64[D]  document indices: 0, 1, ..., S (sequence i is document i)
The .bin is the token ids of every sequence back to back in that dtype.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.pipeline.errors import CurateError
from curate.pipeline.output import MANIFEST, Output

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
DTYPE_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}
VALIDATION = "validation"


def megatron_dtype(vocab_size: int) -> np.dtype:
    """Megatron-LM's choice: uint16 when the vocabulary has fewer than 65,500 entries, else int32."""
    return np.dtype(np.uint16) if vocab_size < 65_500 else np.dtype(np.int32)


class IndexedDatasetWriter:
    """One MMIDIDX prefix: tokens appended to `<prefix>.bin` as documents arrive, the index written at the end."""

    def __init__(self, prefix: Path, dtype: np.dtype):
        self.prefix, self.dtype = prefix, dtype
        self.bin = open(f"{prefix}.bin", "wb")
        self.lengths: list[np.ndarray] = []

    def add(self, values: np.ndarray, lengths: np.ndarray) -> None:
        """Documents given as their concatenated tokens and their lengths."""
        self.bin.write(values.astype(self.dtype, copy=False).tobytes())
        self.lengths.append(lengths.astype(np.int32))

    def close(self) -> list[Path]:
        self.bin.close()
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int32)
        pointers = np.concatenate([[0], np.cumsum(lengths.astype(np.int64))[:-1]]) * self.dtype.itemsize \
            if len(lengths) else np.zeros(0, np.int64)
        documents = np.arange(len(lengths) + 1, dtype=np.int64)
        with open(f"{self.prefix}.idx", "wb") as idx:
            idx.write(MAGIC)
            idx.write(struct.pack("<Q", VERSION))
            idx.write(struct.pack("<B", DTYPE_CODES[self.dtype]))
            idx.write(struct.pack("<Q", len(lengths)))
            idx.write(struct.pack("<Q", len(documents)))
            idx.write(lengths.astype("<i4").tobytes())
            idx.write(pointers.astype("<i8").tobytes())
            idx.write(documents.astype("<i8").tobytes())
        return [Path(f"{self.prefix}.bin"), Path(f"{self.prefix}.idx")]


def export_megatron(output_dir: str, target_dir: str) -> list[Path]:
    """Write `<target>/<domain>.bin/.idx` (train), `<target>/validation.bin/.idx` and `<target>/data-path.txt`.

    Returns the files written, `data-path.txt` last.
    """
    output = Output(str(output_dir))
    if not output.exists(MANIFEST):
        raise CurateError(f"{output_dir}: no {MANIFEST} (not a finished curate output)")
    manifest = output.read_json(MANIFEST)
    if "shards" not in manifest:
        raise CurateError(f"{output_dir}: the manifest lists no token shards (the pipeline had no tokenize stage)")
    dtype = megatron_dtype(int(manifest["tokenizer"]["vocab_size"]))
    target = Path(target_dir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    domains = list(manifest["domains"])
    if VALIDATION in domains:
        raise CurateError(f"a domain is named {VALIDATION!r}, the name of the validation prefix")
    writers = {name: IndexedDatasetWriter(target / name, dtype) for name in [*domains, VALIDATION]}
    for entry in manifest["shards"]:
        with output.fs.open(output.path(entry["path"]), "rb") as f:
            for batch in pq.ParquetFile(f).iter_batches(columns=["split", "n_tokens", "tokens"]):
                held_out = pc.equal(batch.column("split"), VALIDATION)
                for writer, mask in ((writers[entry["domain"]], pc.invert(held_out)), (writers[VALIDATION], held_out)):
                    part = batch.filter(mask)
                    if part.num_rows:
                        tokens = part.column("tokens")
                        values = tokens.values.to_numpy()[tokens.offsets[0].as_py():tokens.offsets[-1].as_py()]
                        writer.add(values, part.column("n_tokens").to_numpy())
    written = [path for writer in writers.values() for path in writer.close()]
    weights = [(manifest["domains"][name]["weight"], target / name) for name in domains
               if manifest["domains"][name]["weight"] > 0]
    blend = " ".join(f"{w:.6g} {prefix}" for w, prefix in weights)
    args = target / "data-path.txt"
    args.write_text(
        "# Megatron-LM arguments for the manifest's mixture (the domain prefixes hold the train split).\n"
        f"--data-path {blend} --split 100,0,0\n"
        "# or, with curate's validation split as Megatron's validation set:\n"
        f"--train-data-path {blend} --valid-data-path 1 {target / VALIDATION}\n")
    return [*written, args]
