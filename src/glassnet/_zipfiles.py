"""Zip archives whose bytes depend only on what they hold: every member gets the same fixed time.

``zipfile`` and ``np.savez`` stamp each member with the current time, so saving the same model twice gave
different files (and a file's bytes depended on the second it was written). Model, weights and backup
files are written through these functions instead; readers see ordinary zip / ``.npz`` archives (each
array a stored ``name.npy`` member in NumPy's own format).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip directory can hold


def write_zip(handle: IO[bytes], members: Mapping[str, bytes], compress: bool = False) -> None:
    """Write ``members`` (name -> bytes, in order) as a zip archive to ``handle``."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(handle, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = method
            info.external_attr = 0o644 << 16  # a plain file, rw-r--r--
            archive.writestr(info, data)


def npz_bytes(arrays: Mapping[str, Any]) -> bytes:
    """What ``np.savez(buffer, **arrays)`` holds (stored ``<name>.npy`` members), with fixed member times."""
    members = {}
    for name, value in arrays.items():
        one = io.BytesIO()
        np.lib.format.write_array(one, np.asanyarray(value), allow_pickle=False)
        members[f"{name}.npy"] = one.getvalue()
    buffer = io.BytesIO()
    write_zip(buffer, members)
    return buffer.getvalue()


__all__ = ["FIXED_TIME", "npz_bytes", "write_zip"]
