"""Reading the ``.npz`` archives that cross the sandbox boundary, with every size checked first.

The learner's outputs come back from the sandbox as an ``.npz`` (a zip of ``.npy`` files), and an
archive is a promise the trusted scorer must not take on trust: 1 MB of deflated zeros expands to
1 GiB (a "zip bomb"), and a zip's directory may lie about the sizes of its members. ``load_npz``
therefore

1. reads the zip's directory only, and refuses the archive before decompressing a byte when it
   has too many members, a member that is not a ``.npy`` file, or declared sizes over the cap;
2. reads each member's ``.npy`` header (a few hundred bytes), and refuses pickled (object)
   arrays and a header whose shape and dtype do not add up to the member's declared size;
3. decompresses each member in chunks into a buffer of exactly that size, and refuses a member
   that holds more data than it declared, so a lying directory costs at most the cap.

Memory and time are bounded by ``max_total_bytes`` whatever the archive says.
"""

from __future__ import annotations

import io
import math
import zipfile

import numpy as np

MAX_TOTAL_BYTES = 64 << 20  # the scorer's cap: far above any probe's outputs
MAX_MEMBERS = 256
CHUNK = 1 << 20
HEADER_LIMIT = 10_000  # numpy's own limit on a .npy header


class ArchiveRefused(ValueError):
    """The archive breaks a limit or is not plain numeric data; the message says which and why."""


def load_npz(data: bytes, max_total_bytes: int = MAX_TOTAL_BYTES,
             max_members: int = MAX_MEMBERS) -> dict[str, np.ndarray]:
    """``{name: array}`` from ``.npz`` bytes, or ``ArchiveRefused``; reads at most the cap."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ArchiveRefused(f"not a readable .npz archive ({error})") from None
    with archive:
        members = _check_directory(archive.infolist(), max_total_bytes, max_members)
        try:
            return {member.filename[:-4]: _read_member(archive, member) for member in members}
        except ArchiveRefused:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as error:
            raise ArchiveRefused(f"a damaged .npz archive ({error})") from None


def _check_directory(members: list[zipfile.ZipInfo], cap: int, max_members: int) -> list:
    """Step 1, from the zip's directory alone: count, names, declared sizes."""
    if len(members) > max_members:
        raise ArchiveRefused(f"the archive has {len(members)} members, over the limit of "
                             f"{max_members}")
    names, total = set(), 0
    for member in members:
        if not member.filename.endswith(".npy") or "/" in member.filename or member.is_dir():
            raise ArchiveRefused(f"member {member.filename!r} is not a .npy array file")
        if member.filename in names:
            raise ArchiveRefused(f"member {member.filename!r} appears twice")
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArchiveRefused(f"member {member.filename!r} uses an unsupported compression")
        names.add(member.filename)
        total += member.file_size
        if member.file_size > cap or total > cap:
            raise ArchiveRefused(f"the arrays declare {_size(total)} uncompressed, over the "
                                 f"limit of {_size(cap)} (member {member.filename!r})")
    return members


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> np.ndarray:
    """Steps 2 and 3 for one member: header, then exactly the bytes it declares."""
    with archive.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream, HEADER_LIMIT)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream, HEADER_LIMIT)
        else:
            raise ArchiveRefused(f"member {member.filename!r} uses .npy format {version}")
        if dtype.hasobject:
            raise ArchiveRefused(f"member {member.filename!r} holds Python objects (a pickled "
                                 "array), not numbers")
        if any(length < 0 for length in shape):
            raise ArchiveRefused(f"member {member.filename!r} has a negative shape {shape}")
        size = math.prod(shape) * dtype.itemsize
        if stream.tell() + size != member.file_size:
            raise ArchiveRefused(f"member {member.filename!r}: its header describes {_size(size)} "
                                 f"of data, its directory entry {_size(member.file_size)} in all")
        buffer = bytearray(size)
        view, filled = memoryview(buffer), 0
        while filled < size:
            count = stream.readinto(view[filled:filled + CHUNK])
            if not count:
                raise ArchiveRefused(f"member {member.filename!r} ends before its declared size")
            filled += count
        if stream.read(1):
            raise ArchiveRefused(f"member {member.filename!r} holds more data than it declares")
    array = np.frombuffer(buffer, dtype=dtype)
    return array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)


def _size(count: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift:
            return f"{count / (1 << shift):.1f} {unit}"
    return f"{count} bytes"
