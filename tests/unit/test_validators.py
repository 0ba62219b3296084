"""Input validators, each kind on good and bad uploads, binary, empty and huge ones: a
failure is InputNotValid naming the validator and the problem, never another error."""

from __future__ import annotations

import os

import pytest

from app.errors import InputNotValid, InvalidInput
from app.validators import VALIDATORS, check_names, run_validators

PROTEIN = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ"  # 66 residues
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 20
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
JFIF = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 10
EXIF = b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00" + b"\x00" * 10
RAW_JPEG = b"\xff\xd8\xff\xdb" + b"\x00" * 10
PDB = b"HEADER    TEST\nATOM      1  N   MET A   1      38.198  19.582  28.365  1.00 60.69           N\nEND\n"
BINARY = bytes(range(256)) * 4


def refused(name: str, content: bytes) -> str:
    with pytest.raises(InputNotValid) as exc:
        run_validators([name], content)
    assert exc.value.validator == name and exc.value.status_code == 400
    assert exc.value.message.startswith(f"{name}: ")
    return exc.value.message


@pytest.mark.parametrize("name,content", [
    ("seq", PROTEIN.encode()),
    ("seq", f">one\n{PROTEIN[:40]}\n{PROTEIN[40:]}\n".encode()),
    ("seq", f";comment\n>one\r\n{PROTEIN.lower()}\r\n".encode()),
    ("seq", f">a\n{PROTEIN}\n>b\n{PROTEIN[::-1]}\n>c\n{'-' * 6}{PROTEIN[6:]}\n".encode()),
    ("seq", ("X" * 1500).encode()),
    ("pdb_file", PDB),
    ("pdb_file", b"atom 12 lower case still counts"),
    ("png", PNG), ("gif", GIF), ("gif", b"GIF87a" + b"\x00" * 8),
    ("jpeg", JFIF), ("jpeg", EXIF), ("jpeg", RAW_JPEG),
    ("none", BINARY), ("none", b""),
])
def test_good_uploads_pass(name, content):
    run_validators([name], content)


def test_seq_names_the_line_and_the_characters_that_are_not_residues():
    text = f">one\n{PROTEIN[:40]}\n{PROTEIN[40:50]}JB{PROTEIN[50:]}\n".encode()
    assert refused("seq", text) == "seq: line 3 has characters that are not residues: 'J', 'B'."
    assert "line 1" in refused("seq", b"1234 " + PROTEIN.encode())
    many = refused("seq", ("".join(chr(c) for c in range(0x100, 0x110)) + PROTEIN).encode())
    assert "and 11 more" in many


def test_seq_lengths_nucleotides_and_alignments():
    assert refused("seq", PROTEIN[:29].encode()) == "seq: the sequence has 29 residues; at least 30 are needed."
    assert "at most 1500" in refused("seq", ("A" + "K" * 1500).encode())
    assert "looks like DNA or RNA" in refused("seq", b">dna\n" + b"ACGT" * 20)
    run_validators(["seq"], b"ACGT" * 9 + b"MKQR")  # 90 % nucleotides: a protein still
    uneven = f">a\n{PROTEIN}\n>b\n{PROTEIN[:-1]}\n".encode()
    assert refused("seq", uneven) == ("seq: an alignment's sequences are all as long as the first (66 residues); "
                                      "sequence 2 has 65.")
    short = f">a\n{PROTEIN[:20]}\n>b\n{PROTEIN[:20]}\n".encode()
    assert refused("seq", short) == "seq: sequence 1 has 20 residues; at least 30 are needed."
    assert refused("seq", b">only a header\n") == "seq: the file holds no sequence."
    assert refused("seq", b"\n\n;just comments\n") == "seq: the file holds no sequence."


@pytest.mark.parametrize("name", ["seq", "pdb_file"])
def test_binary_on_a_text_validator_is_refused_in_words(name):
    message = refused(name, PNG)
    assert "not UTF-8 text (byte 0x89 at offset 0)" in message
    assert "not UTF-8 text" in refused(name, os.urandom(4096) + b"\xff")


@pytest.mark.parametrize("name", ["png", "gif", "jpeg"])
def test_images_are_told_apart_by_their_magic_bytes(name):
    others = {"png": [GIF, JFIF, PDB], "gif": [PNG, RAW_JPEG, PDB], "jpeg": [PNG, GIF, PDB, b"\xff\xd8\xff\xe0"]}
    for content in others[name]:
        message = refused(name, content)
        assert f"is not a {name.upper()} image" in message and "starts with bytes" in message
    assert "starts with bytes 00 01 02 03 04 05 06 07" in refused(name, BINARY)


@pytest.mark.parametrize("name", [n for n in VALIDATORS if n != "none"])
def test_empty_uploads_are_refused_by_every_kind_but_none(name):
    assert refused(name, b"") == f"{name}: the file is empty."


def test_pdb_without_an_atom_record():
    assert "no ATOM record" in refused("pdb_file", b"HEADER only\nHETATM 1\n")


def test_huge_uploads_are_checked_in_one_pass():
    big = (f">a\n{PROTEIN}\n" * 100_000).encode()  # 7 MB, 100,000 aligned sequences
    run_validators(["seq"], big)
    assert "line 200001" in refused("seq", big + b"!" * 10)
    run_validators(["pdb_file"], b"REMARK\n" * 1_000_000 + b"ATOM 1")
    assert "no ATOM record" in refused("pdb_file", b"REMARK\n" * 1_000_000)


def test_every_validator_must_pass_in_order():
    run_validators(["none", "seq"], PROTEIN.encode())
    with pytest.raises(InputNotValid) as exc:
        run_validators(["seq", "png"], PROTEIN.encode())
    assert exc.value.validator == "png"


def test_a_pipeline_names_known_validators_only():
    assert check_names(["seq", "none", "seq"]) == ["seq", "none"]
    assert check_names(None) == [] and check_names([]) == []
    for bad, where in [(["seq", "fasta"], "validators.1"), ([3], "validators.0"), ("seq", "validators")]:
        with pytest.raises(InvalidInput) as exc:
            check_names(bad)
        assert exc.value.field == where
    with pytest.raises(InvalidInput) as exc:
        check_names(["fasta"])
    assert exc.value.message.startswith("Unknown validator 'fasta'; validators: none, seq, pdb_file")
