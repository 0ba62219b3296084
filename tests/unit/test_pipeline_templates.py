"""Command templates: split like a shell would, then each placeholder filled inside its
own argument, so no value adds an argument or a command."""

from pathlib import Path

import pytest

from app.errors import InvalidInput
from app.pipelines import ParameterInfo, TaskInfo, _argv, check_command


def _task(command: str, *params: ParameterInfo) -> TaskInfo:
    return TaskInfo(1, "t", "", "pipeline", "command", command, "", "", "", "0", 60, list(params))


def test_values_stay_inside_their_argument():
    task = _task("grep -c {pattern} {input} --label=in:{input}", ParameterInfo("pattern"))
    values = {"input": "/data/my notes; rm -rf ~.txt", "upload": "/u", "output_dir": "/o",
              "pattern": "$(reboot) | cat"}
    argv = _argv(task, values, [Path(values["input"])], {"pattern": "$(reboot) | cat"})
    assert argv == ["grep", "-c", "$(reboot) | cat", "/data/my notes; rm -rf ~.txt",
                    "--label=in:/data/my notes; rm -rf ~.txt"]


def test_inputs_expand_to_one_argument_each_and_flags_are_appended():
    task = _task("cat {inputs}", ParameterInfo("n", flag="-n"), ParameterInfo("sep", flag="--sep="),
                 ParameterInfo("unset", flag="-u"))
    inputs = [Path("/a b.txt"), Path("/c.txt")]
    argv = _argv(task, {"input": "/a b.txt", "upload": "/u", "output_dir": "/o", "n": "5", "sep": ",", "unset": ""},
                 inputs, {"n": "5", "sep": ",", "unset": ""})
    assert argv == ["cat", "/a b.txt", "/c.txt", "-n", "5", "--sep=,"]


def test_literal_braces_and_quoting():
    task = _task("awk '{{print $1}}' \"{output_dir}/out file.txt\"")
    assert check_command(task.command, []) == ["awk", "{{print $1}}", "{output_dir}/out file.txt"]
    argv = _argv(task, {"input": "/i", "upload": "/u", "output_dir": "/o d"}, [Path("/i")], {})
    assert argv == ["awk", "{print $1}", "/o d/out file.txt"]


@pytest.mark.parametrize("command", ["wc {nope}", "{input}", "cat x{inputs}", "echo {input!r}", "echo }",
                                     "echo 'open", "echo {0}"])
def test_malformed_templates_are_refused(command):
    with pytest.raises(InvalidInput) as err:
        check_command(command, [])
    assert err.value.field == "command"
