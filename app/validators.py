"""Input validators: what a pipeline's upload must be before a run is lodged on it
(Analytics Automated's job validators). A pipeline names its validators; every one must
pass on the raw upload, checked before anything is stored.

Kinds: `none` (always passes), `seq` (a protein sequence or alignment in FASTA or plain
text), `pdb_file` (PDB text with ATOM records), `png`, `gif`, `jpeg` (the magic bytes
the standard library's imghdr looked for). A failure raises InputNotValid naming the
validator and what is wrong, in words the submitter can act on; binary or empty data on
a text validator is such a failure too, never an error of the server.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Optional

from app.errors import InputNotValid, InvalidInput

# seq: residues a sequence may hold (any case), its length, and the share of nucleotide
# letters past which it is taken for DNA/RNA rather than protein.
RESIDUES = frozenset("ACDEFGHIKLMNPQRSTVWYX-")
NUCLEOTIDES = frozenset("ACGTUN")
MIN_RESIDUES, MAX_RESIDUES = 30, 1500
MAX_NUCLEOTIDE_SHARE = 0.95
_PDB_ATOM = re.compile(r"ATOM\s+\d+", re.IGNORECASE)
_SHOWN = 5  # bad characters quoted in a message


class _Refused(Exception):
    """What a check found wrong; run_validators turns it into InputNotValid."""


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Refused(f"the file is not UTF-8 text (byte 0x{content[exc.start]:02x} at offset {exc.start}); "
                       f"upload a text file") from None


def _start(content: bytes) -> str:
    return content[:8].hex(" ") or "nothing"


def _none(content: bytes) -> None:
    return None


def _png(content: bytes) -> None:
    if not content.startswith(b"\x89PNG\r\n\x1a\n"):
        raise _Refused(f"the file is not a PNG image (it starts with bytes {_start(content)}, "
                       f"not 89 50 4e 47 0d 0a 1a 0a)")


def _gif(content: bytes) -> None:
    if content[:6] not in (b"GIF87a", b"GIF89a"):
        raise _Refused(f"the file is not a GIF image (it starts with bytes {_start(content)}, not GIF87a or GIF89a)")


def _jpeg(content: bytes) -> None:
    # imghdr's test: a JFIF or Exif marker at offset 6, or a raw JPEG's first marker.
    if content[6:10] not in (b"JFIF", b"Exif") and content[:4] != b"\xff\xd8\xff\xdb":
        raise _Refused(f"the file is not a JPEG image (it starts with bytes {_start(content)}; "
                       f"no JFIF or Exif marker)")


def _pdb_file(content: bytes) -> None:
    text = _text(content)
    if not _PDB_ATOM.search(text):
        raise _Refused("the file has no ATOM record (a line such as 'ATOM      1  N   MET A   1 ...'); "
                       "upload a PDB file")


def _quoted(chars: Iterable[str]) -> str:
    seen = list(dict.fromkeys(chars))
    shown = ", ".join(repr(c) for c in seen[:_SHOWN])
    return shown + (f" and {len(seen) - _SHOWN} more" if len(seen) > _SHOWN else "")


def _check_residues(sequence: str, what: str) -> None:
    n = len(sequence)
    if n < MIN_RESIDUES:
        raise _Refused(f"{what} has {n} residue{'s' if n != 1 else ''}; at least {MIN_RESIDUES} are needed")
    if n > MAX_RESIDUES:
        raise _Refused(f"{what} has {n} residues; at most {MAX_RESIDUES} are taken")
    nucleotides = sum(1 for c in sequence.upper() if c in NUCLEOTIDES)
    if nucleotides >= MAX_NUCLEOTIDE_SHARE * n:
        raise _Refused(f"{what} looks like DNA or RNA ({100 * nucleotides // n} % of it is A, C, G, T, U or N); "
                       f"a protein sequence is needed")


def _seq(content: bytes) -> None:
    text = _text(content)
    records: list[list[str]] = []  # the residues of each sequence, by line
    bad_line: Optional[tuple[int, str]] = None
    headers = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith(">"):
            headers += 1
            records.append([])
            continue
        if not line or line.startswith(";"):
            continue
        bad = [c for c in line if c.upper() not in RESIDUES]
        if bad and bad_line is None:
            bad_line = (number, _quoted(bad))
        if not records:
            records.append([])
        records[-1].append(line)
    if bad_line is not None:
        raise _Refused(f"line {bad_line[0]} has characters that are not residues: {bad_line[1]}")
    if headers <= 1:
        sequence = "".join(part for r in records for part in r)
        if not sequence:
            raise _Refused("the file holds no sequence")
        _check_residues(sequence, "the sequence")
        return
    # More than one header: an alignment, every sequence as long as the first.
    sequences = ["".join(r) for r in records]
    first = len(sequences[0])
    for i, sequence in enumerate(sequences, start=1):
        if len(sequence) != first:
            raise _Refused(f"an alignment's sequences are all as long as the first ({first} residues); "
                           f"sequence {i} has {len(sequence)}")
    for i, sequence in enumerate(sequences, start=1):
        _check_residues(sequence, f"sequence {i}")


VALIDATORS: dict[str, Callable[[bytes], None]] = {
    "none": _none,
    "seq": _seq,
    "pdb_file": _pdb_file,
    "png": _png,
    "gif": _gif,
    "jpeg": _jpeg,
}

DESCRIPTIONS = {
    "none": "anything",
    "seq": f"a protein sequence or alignment (FASTA or plain text), {MIN_RESIDUES}-{MAX_RESIDUES} residues of "
           f"{''.join(sorted(RESIDUES))} each",
    "pdb_file": "a PDB file (text with ATOM records)",
    "png": "a PNG image",
    "gif": "a GIF image",
    "jpeg": "a JPEG image",
}


def check_names(value: Any, *, field: str = "validators") -> list[str]:
    """A pipeline's validator names as configured: known names, each once, in order;
    InvalidInput names an unknown one."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InvalidInput(f"{field} must be a list of validator names, e.g. [\"seq\"].", field=field)
    out: list[str] = []
    for i, name in enumerate(value):
        if not isinstance(name, str) or name.strip() not in VALIDATORS:
            shown = repr(name)[:80]
            raise InvalidInput(f"Unknown validator {shown}; validators: {', '.join(VALIDATORS)}.",
                               field=f"{field}.{i}")
        if name.strip() not in out:
            out.append(name.strip())
    return out


def run_validators(names: Iterable[str], content: bytes) -> None:
    """Every named validator on the upload, in order; the first that fails raises
    InputNotValid ("seq: line 3 has characters that are not residues: 'J'")."""
    for name in names:
        check = VALIDATORS.get(name)
        if check is None:  # configured before a validator was withdrawn: refuse, do not skip
            raise InputNotValid(f"{name}: this pipeline names a validator Jobdeck does not have; "
                                f"an admin must correct the pipeline.", validator=name)
        if not content and name != "none":
            raise InputNotValid(f"{name}: the file is empty.", validator=name)
        try:
            check(content)
        except _Refused as exc:
            raise InputNotValid(f"{name}: {exc}.", validator=name) from None
