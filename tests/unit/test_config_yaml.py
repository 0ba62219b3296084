"""The configuration's YAML text: any text survives a dump and a load unchanged (and dumps
to the same bytes again), several lines stay a readable block, and the guarded load
refuses what a configuration never needs, naming the path and the line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import config_yaml
from app.errors import DocumentNotReadable, PayloadTooLarge

TRICKY = ["", "0", "1.5", "yes", "null", "~", "- a", "a: b", "#x", "'q'", '"q"', "a\nb", "a\nb\n", "a\n\n\nb\n\n",
          "  lead\nx", "trail \nx", "x\n  ", "\ttab\nx", "a\r\nb", "line\u2028sep\nx", "a\x85b\n", "\ufeffa\nb",
          "\U0001F600\nx", "{input}", "*.csv", "!tag", "&anchor", "*alias", "<<", "%YAML", "@x", "`x`"]


@given(st.text(max_size=40))
@settings(max_examples=400, deadline=None)
def test_any_text_comes_back_as_it_was(text):
    data = {"tasks": [{"name": text, "parameters": [{"choices": [text]}]}], text or "k": text}
    out = config_yaml.dump(data)
    assert config_yaml.load(out) == data
    assert config_yaml.dump(config_yaml.load(out)) == out


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_text_comes_back_as_it_was(text):
    data = {"v": [{"s": text}]}
    assert config_yaml.load(config_yaml.dump(data)) == data


def test_several_lines_are_a_block_and_nothing_folds():
    out = config_yaml.dump({"description": "one\ntwo\n", "command": "x " * 200})
    assert "description: |\n  one\n  two\n" in out
    assert any(line.startswith("command: ") and line.count("x") == 200 for line in out.splitlines())
    assert out.startswith(config_yaml.HEADER)


@pytest.mark.parametrize("text,field,words", [
    ("a: &x [1]\nb: *x\n", "a", "anchors (&x) are not allowed"),
    ("a: [1]\nb: *x\n", "b", "aliases (*name) are not allowed"),
    ("tasks:\n- name: a\n  parameters:\n  - flag: x\n    flag: y\n", "tasks[0].parameters[0].flag", "given twice"),
    ("tasks: !!python/object/apply:os.system [true]\n", "tasks", "tags"),
    ("a: !!binary aGk=\n", "a", "tags"),
    ("[" * 20 + "]" * 20, "[0][0][0][0][0][0][0][0][0][0][0][0]", "nested deeper than 12 levels"),
    ("a: 1\n---\nb: 2\n", "document", "only one YAML document"),
    ("<<: {a: 1}\n", "document", "merge keys"),
    ("{[1]: 2}\n", "document", "a key must be plain text"),
    ("a: [" + "1," * 100_001 + "]\n", "a[99998]", "more than 100000 values"),
    ("x: " + "9" * 5000 + "\n", "document", "cannot be read"),
    ("tasks: [\n", "document", "line 2, column 1"),
])
def test_the_guarded_load_refuses_naming_the_path(text, field, words):
    with pytest.raises(DocumentNotReadable) as refused:
        config_yaml.load(text)
    assert refused.value.field == field and words in refused.value.message, refused.value.message
    assert refused.value.status_code == 400


def test_size_and_encoding():
    with pytest.raises(PayloadTooLarge):
        config_yaml.load(b"#" * (config_yaml.MAX_BYTES + 1))
    with pytest.raises(DocumentNotReadable, match="not UTF-8"):
        config_yaml.load(b"a: \xff\n")
    assert config_yaml.load("\ufeffa: 1\n".encode("utf-8")) == {"a": 1}
    assert config_yaml.load("") is None and config_yaml.load("# only a comment\n") is None


def test_paths():
    assert config_yaml.path_of(["tasks", 2, "parameters", 0, "flag"]) == "tasks[2].parameters[0].flag"
    assert config_yaml.join("tasks[2]", "parameters.0.flag") == "tasks[2].parameters[0].flag"
    assert config_yaml.join("pipelines[0]", "steps.10") == "pipelines[0].steps[10]"
    assert config_yaml.join("backends[1]", "") == "backends[1]"


@pytest.mark.parametrize("text", TRICKY)
def test_a_tasks_environment_comes_back_as_it_was(text):
    data = {"tasks": [{"name": "t", "retries": 2, "software_version": text, "environment": {"LC_ALL": "C", "V": text}}]}
    out = config_yaml.dump(data)
    assert config_yaml.load(out) == data
    assert config_yaml.dump(config_yaml.load(out)) == out
