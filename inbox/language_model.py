"""py3langid's model read straight from its packaged .npz.xz, for our languages only."""

from __future__ import annotations

import lzma
import struct
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

# A ZIP local file header (the .npz members, stored uncompressed, one after the other).
_ZIP_ENTRY = struct.Struct("<4sHHHHHIIIHH")
_ZIP_STORED, _ZIP_DESCRIPTOR = 0, 0x08


def load_identifier(languages: tuple[str, ...]) -> Any:
    """py3langid's identifier for these languages (normalised probabilities), read from the
    packaged model as the LZMA stream decompresses (py3langid's own loader writes the 68 MB
    of it to a temporary file first); of the feature weights only these languages' columns
    are read, a block of rows at a time (its own loader holds all 142 columns, 28 MB). The
    class list comes after the weights in the file: a first pass reads it (decompressing
    the 29 MB before it, about 0.1 s)."""
    path = MODEL_DIR / MODEL_FILE
    classes = _classes(path)
    unknown = set(languages) - set(classes)
    if unknown:
        raise ValueError(f"unknown language codes: {sorted(unknown)}")
    keep = [i for i, c in enumerate(classes) if c in languages]
    model: dict[str, Any] = {}
    with lzma.open(path) as src:
        for name, shape, dtype in _npz_arrays(src):
            if name == "ptc":
                model[name] = _read_columns(src, shape, dtype, keep)
            elif name in _ARRAY_MEMBERS:
                model[name] = _read_table(src, shape, dtype)
            else:
                model[name] = _read(src, shape, dtype)
    return LanguageIdentifier(model["ptc"], model["pc"][keep], [classes[i] for i in keep],
                              model["nextmove"], model["out_feat"].tolist(), norm_probs=True,
                              tk_row=model["nextmove_row"])


def _classes(path: Path) -> list[str]:
    with lzma.open(path) as src:
        for name, shape, dtype in _npz_arrays(src):
            if name == "classes":
                return list(_read(src, shape, dtype).tolist())
    raise ValueError("language model without classes")


_ARRAY_MEMBERS = {"nextmove", "nextmove_row"}  # DFA tables walked per byte: stdlib arrays
_TYPECODES = {2: "H", 4: "I", 8: "Q"}
_CHUNK = 1 << 20  # bytes decompressed at a time


def _npz_arrays(src: IO[bytes]) -> Iterator[tuple[str, tuple[int, ...], np.dtype[Any]]]:
    """The members of an uncompressed .npz read front to back from a stream (no seeking):
    each one's name, shape and dtype, the stream at its data, which the caller reads (or
    skips: what it leaves is skipped) before asking for the next."""
    while True:
        head = src.read(_ZIP_ENTRY.size)
        if len(head) < _ZIP_ENTRY.size or head[:4] != b"PK\x03\x04":
            return  # the central directory: every member read
        _, _, flags, method, *_, name_size, extra_size = _ZIP_ENTRY.unpack(head)
        if method != _ZIP_STORED or flags & _ZIP_DESCRIPTOR:
            raise ValueError("unsupported language model layout")
        name = src.read(name_size).decode().removesuffix(".npy")
        src.read(extra_size)
        version = np.lib.format.read_magic(src)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(src)
        if fortran or dtype.hasobject:
            raise ValueError("unsupported language model layout")
        start = src.tell()
        yield name, shape, dtype
        size = int(np.prod(shape)) * dtype.itemsize
        left = start + size - src.tell()
        if left < 0:
            raise ValueError("language model member read past its end")
        while left:  # not read by the caller: skipped (decompressed, dropped)
            skipped = len(src.read(min(left, _CHUNK)))
            left -= skipped or _truncated()


def _read(src: IO[bytes], shape: tuple[int, ...], dtype: np.dtype[Any]) -> Any:
    values = np.empty(shape, dtype)
    _read_into(src, memoryview(values.reshape(-1).view(np.uint8).data))
    return values


def _read_table(src: IO[bytes], shape: tuple[int, ...], dtype: np.dtype[Any]) -> array[int]:
    table = array(_TYPECODES[dtype.itemsize], [0]) * int(np.prod(shape))
    _read_into(src, memoryview(table).cast("B"))
    return table


def _read_columns(src: IO[bytes], shape: tuple[int, ...], dtype: np.dtype[Any],
                  keep: list[int]) -> Any:
    """These columns of a 2-D array, read a block of rows at a time."""
    rows, columns = shape
    values = np.empty((rows, len(keep)), dtype)
    step = max(1, _CHUNK // (columns * dtype.itemsize))
    block = np.empty((step, columns), dtype)
    for first in range(0, rows, step):
        part = block[:min(step, rows - first)]
        _read_into(src, memoryview(part.reshape(-1).view(np.uint8).data))
        values[first:first + len(part)] = part[:, keep]
    return values


def _read_into(src: IO[bytes], target: memoryview) -> None:
    done = 0
    while done < len(target):
        got = src.readinto(target[done:done + _CHUNK])  # type: ignore[attr-defined]
        done += got or _truncated()


def _truncated() -> int:
    raise ValueError("truncated language model")
