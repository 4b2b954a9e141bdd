"""Reading a model file that may come from anyone, with every resource bounded before it is spent.

A model file is a zip of ``config.json``, ``weights.npz`` and optionally ``optimizer.npz``. Before a
byte is decompressed, the zip directory is checked: known member names only, each once, stored or
deflated, declared sizes within ``max_bytes`` and within what deflate can produce from the compressed
size (at most about 1032:1). Each ``.npz`` is itself a zip of ``.npy`` files; their headers are parsed
(``allow_pickle`` never) and the declared shape and dtype must account for exactly the bytes present,
so a header cannot ask for more memory than the file holds. ``config.json`` is limited in size and in
nesting depth before it is parsed, and may not repeat a key. Whatever the bytes, the only exception
that leaves this module is ``ModelFileError``, naming the file, the member and the problem.
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._typing import Array
from ..errors import GlassnetError, ModelFileError

DEFAULT_MAX_BYTES = 1 << 30  # all members together, uncompressed (1 GiB); load_model(max_bytes=...)
MAX_CONFIG_BYTES = 64 << 20
MAX_JSON_DEPTH = 64
MAX_DEFLATE_RATIO = 1040  # deflate's largest expansion is 1032:1 (258-byte matches of 2 bits each)
MEMBERS = ("config.json", "weights.npz", "optimizer.npz")
_ARRAY_NAME = re.compile(r"([a-z])(\d{1,9})\.npy")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


@dataclass
class NpyEntry:
    """One array of an ``.npz`` member, known from its header only until ``read()``."""

    member: str  # e.g. "weights.npz:w0003.npy"
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran: bool
    source: Any  # bytes or a memoryview holding the .npy data
    offset: int  # where the array's data starts in ``source``
    crc: int | None  # CRC-32 of the whole .npy file, checked by read() when the bytes were not yet checked
    start: int = 0  # where the .npy file starts in ``source``

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def read(self) -> Array:
        """The array, read-only, from exactly the bytes its header declared (checked when it was listed)."""
        nbytes = self.size * self.dtype.itemsize
        if self.crc is not None:
            view = memoryview(self.source)[self.start : self.offset + nbytes]
            if zlib.crc32(view) != self.crc:
                raise ModelFileError(f"{self.member}: damaged (CRC-32 does not match the zip directory)")
        flat = np.frombuffer(self.source, dtype=self.dtype, count=self.size, offset=self.offset)
        return flat.reshape(self.shape, order="F" if self.fortran else "C")


def fail(where: str, problem: str) -> ModelFileError:
    return ModelFileError(f"{where}: {problem}")


def _check_directory(infos: list[zipfile.ZipInfo], where: str, budget: int, allowed: Any) -> None:
    """Names known and unique, methods plain, declared sizes within the budget and deflate's reach."""
    names = [info.filename for info in infos]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise fail(where, f"member {name!r} appears twice; hint: the file was edited or damaged")
        seen.add(name)
        if not allowed(name):
            raise fail(where, f"unexpected member {name[:80]!r}; hint: not written by glassnet's save_model")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise fail(where, f"member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise fail(where, f"member {info.filename!r} uses compression method {info.compress_type}; "
                              "only stored and deflated members are read")
        limit = info.compress_size if info.compress_type == zipfile.ZIP_STORED else (
            info.compress_size * MAX_DEFLATE_RATIO + 1024)
        if info.file_size > limit:
            raise fail(where, f"member {info.filename!r} declares {info.file_size} bytes from "
                              f"{info.compress_size} compressed bytes, more than compression can produce "
                              "(a zip bomb or a damaged directory)")
        total += info.file_size
        if total > budget:
            raise fail(where, f"members declare {total} bytes uncompressed, more than the limit of {budget} "
                              "bytes; hint: pass a larger max_bytes to load_model if the file is trusted")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with archive.open(info) as handle:
        data = handle.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise zipfile.BadZipFile(f"member {info.filename!r} holds {len(data)} bytes, directory says {info.file_size}")
    return data


def read_members(path: str | os.PathLike[str], max_bytes: int) -> dict[str, bytes]:
    """The members of the model zip, each read only after the directory was checked."""
    where = os.fspath(path)
    try:
        size = os.stat(where).st_size
    except OSError as exc:
        raise fail(where, f"cannot read the model file ({exc.strerror or exc})") from None
    if os.path.isdir(where):
        raise fail(where, "is a folder, not a model file; hint: a run folder holds model.glassnet")
    if size > max_bytes:
        raise fail(where, f"the file has {size} bytes, more than the limit of {max_bytes}; hint: pass a larger "
                          "max_bytes to load_model if the file is trusted")
    try:
        with zipfile.ZipFile(where) as archive:
            infos = archive.infolist()
            _check_directory(infos, where, max_bytes, lambda name: name in MEMBERS)
            members = {info.filename: _read_member(archive, info) for info in infos}
    except GlassnetError:
        raise
    except zipfile.BadZipFile as exc:
        detail = "not a zip archive" if "File is not a zip file" in str(exc) else f"damaged zip: {exc}"
        raise fail(where, f"not a glassnet model file ({detail})") from None
    except Exception as exc:  # zipfile and zlib raise many types on damaged input; all mean "damaged"
        raise fail(where, f"not a glassnet model file (damaged zip: {type(exc).__name__}: {exc})") from None
    for name in ("config.json", "weights.npz"):
        if name not in members:
            raise fail(where, f"not a glassnet model file ({name} missing)")
    return members


def json_depth(text: str) -> int:
    """Deepest nesting of [ and { outside strings (linear time, no recursion)."""
    brackets = _STRING.sub("", text).encode("utf-8").translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int64)
    return int(np.cumsum(steps).max())


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for k, key in enumerate(keys) if key in keys[:k])
        raise ValueError(f"key {twice[:60]!r} appears twice in one object")
    return out


def parse_config(data: bytes, where: str) -> dict[str, Any]:
    """config.json as a dict: size, encoding, nesting depth and duplicate keys checked first."""
    place = f"{where}: config.json"
    if len(data) > MAX_CONFIG_BYTES:
        raise fail(place, f"has {len(data)} bytes, more than the limit of {MAX_CONFIG_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(place, f"is not UTF-8 text (byte {exc.start})") from None
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise fail(place, f"nests {depth} levels deep, more than the limit of {MAX_JSON_DEPTH}")
    try:
        config = json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise fail(place, f"is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise fail(place, f"must hold a JSON object, got {type(config).__name__}")
    return config


def read_npz(data: bytes, member: str, where: str, prefix: str, budget: int) -> list[NpyEntry]:
    """The arrays of an .npz member, ordered by their index (``w0``, ..., ``w9999``, ``w10000``, ...),
    each header parsed and checked against the bytes present; no data is converted yet."""
    place = f"{where}: {member}"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
        _check_directory(infos, place, budget, lambda name: _index(name, prefix) is not None)
        entries = [_entry(archive, data, info, member, place, prefix) for info in infos]
    except GlassnetError:
        raise
    except zipfile.BadZipFile as exc:
        raise fail(place, f"is not a readable .npz archive ({exc})") from None
    except Exception as exc:  # as in read_members: damaged bytes surface as many exception types
        raise fail(place, f"is not a readable .npz archive ({type(exc).__name__}: {exc})") from None
    entries.sort(key=lambda e: e.index)
    for k, entry in enumerate(entries):
        if entry.index != k:
            raise fail(place, f"array {prefix}{k} is missing (found {entry.member.rsplit(':', 1)[1]}); hint: arrays "
                              f"are numbered {prefix}0, {prefix}1, ... without gaps")
    return entries


def _index(name: str, prefix: str) -> int | None:
    match = _ARRAY_NAME.fullmatch(name)
    return int(match.group(2)) if match and match.group(1) == prefix else None


_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_NPY_HEADER = re.compile(
    rb"\{'descr': '([<>|=][a-z]\d{1,2})', 'fortran_order': (True|False), "
    rb"'shape': \(((?:\d{1,18}, ?)*\d{0,18})\), \} *\n"
)


def _entry(archive: zipfile.ZipFile, data: bytes, info: zipfile.ZipInfo, member: str, place: str,
           prefix: str) -> NpyEntry:
    """Parse one .npy header and check it against the member's size; the data itself is not touched.

    The members ``np.savez`` writes are stored, with the header in numpy's own layout: those are read in
    place from the .npz bytes with one regular expression. Anything else goes through numpy's parser
    (which reads at most 10,000 header bytes and never evaluates more than literals).
    """
    index = _index(info.filename, prefix)
    assert index is not None
    name = f"{place}:{info.filename}"  # "<file>: weights.npz:w0003.npy" in messages
    fast = _stored_entry(data, info, name, index) if info.compress_type == zipfile.ZIP_STORED else None
    if fast is not None:
        return fast
    raw = _read_member(archive, info)
    stream = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as exc:  # numpy raises ValueError (and SyntaxError-like errors) on bad headers
        raise fail(place, f"{info.filename}: bad .npy header ({type(exc).__name__}: {exc})") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise fail(place, f"{info.filename}: dtype {dtype} is not a plain number type")
    if not all(isinstance(s, int) and s >= 0 for s in shape):
        raise fail(place, f"{info.filename}: header declares an invalid shape {shape}")
    entry = NpyEntry(name, index, tuple(shape), dtype, bool(fortran), raw, stream.tell(), None)
    _check_size(entry, len(raw), place)
    return entry


def _stored_entry(data: bytes, info: zipfile.ZipInfo, name: str, index: int) -> NpyEntry | None:
    """The entry read in place from a stored member whose header has numpy's usual layout, else None."""
    at = info.header_offset
    if at < 0 or at + _LOCAL_HEADER.size > len(data):
        return None
    sig, _, _, method, _, _, _, _, _, name_len, extra_len = _LOCAL_HEADER.unpack_from(data, at)
    start = at + _LOCAL_HEADER.size + name_len + extra_len
    if sig != b"PK\x03\x04" or method != 0 or start + info.file_size > len(data) or info.file_size < 10:
        return None
    if data[start : start + 6] != b"\x93NUMPY" or data[start + 6 : start + 8] != b"\x01\x00":
        return None
    header_len = int.from_bytes(data[start + 8 : start + 10], "little")
    offset = start + 10 + header_len
    match = _NPY_HEADER.fullmatch(data, start + 10, offset)
    if match is None or offset > start + info.file_size:
        return None
    parsed = _parse_header(*match.groups())
    if parsed is None:
        return None
    dtype, fortran, shape = parsed
    entry = NpyEntry(name, index, shape, dtype, fortran, data, offset, info.CRC, start)
    if offset - start + entry.size * dtype.itemsize != info.file_size:
        return None  # numpy's parser path gives the precise message
    return entry


@functools.lru_cache(maxsize=4096)  # a model repeats a few (dtype, shape) pairs many times
def _parse_header(descr: bytes, fortran: bytes, dims: bytes) -> tuple[np.dtype[Any], bool, tuple[int, ...]] | None:
    try:
        dtype = np.dtype(descr.decode("ascii"))
    except TypeError:
        return None
    if dtype.kind not in "biuf":
        return None
    return dtype, fortran == b"True", tuple(int(d) for d in dims.split(b",") if d.strip())


def _check_size(entry: NpyEntry, file_size: int, place: str) -> None:
    nbytes = entry.size * entry.dtype.itemsize
    if entry.offset + nbytes != file_size:
        raise fail(place, f"{entry.member.rsplit(':', 1)[1]}: header declares shape {entry.shape} of {entry.dtype} "
                          f"({nbytes} bytes) but the member holds {file_size - entry.offset} bytes of data")
