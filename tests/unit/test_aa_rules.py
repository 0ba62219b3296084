"""Analytics Automated's rules without a server: the value check, the email check, the
jobtimes figure (scipy's gaussian_kde peak, Scott's bandwidth), percentiles, and how
the errors raised inside run_pipeline are answered."""

from __future__ import annotations

import pytest

from app import aa_compat as aa
from app import estimates
from app.api.aa import _refusal
from app.errors import InputNotValid, ParameterRefused, TooManyActive


@pytest.mark.parametrize("value,why", [
    ("abc", None), ("1.5", None), ("TRUE", None), ("FALSE", None), ("in", None), ("ACGT", None),
    ("a-b", "punctuation"), ("a b", "punctuation"), ("a\tb", "punctuation"), ("x/y", "punctuation"),
    ("None", "python keyords"), ("False", "python keyords"), ("lambda", "python keyords"),
    ("T", "R keywords"), ("F", "R keywords"), ("c", "R keywords"), ("rm", "R keywords"), ("max", "R keywords"),
    ("sort", "R keywords"), ("seq", "R keywords"), ("format.packageInfo", "R keywords"),
    ("true", "unix commands"), ("false", "unix commands"), ("bash", "unix commands"),
])
def test_value_check(value, why):
    assert aa.value_problem(value) == why


@pytest.mark.parametrize("address,ok", [("a@example.org", True), ("a.b+c@sub.example.co.uk", True),
                                        ("x@localhost", True), ("plain", False), ("a@b", False),
                                        ("a@@b.org", False), ("a b@c.org", False), ("a@-b.org", False),
                                        ("a@b.org\n", False), ("x" * 250 + "@b.org", False)])
def test_email_check(address, ok):
    assert aa.email_ok(address) is ok


def test_jobtimes_figure():
    assert estimates.kde_peak([1800, 300]) == 1049  # scipy's gaussian_kde gives the same peak
    assert estimates.kde_peak([42]) == 42
    assert estimates.kde_peak([0, 0, 0]) == 0  # A_A answers null here
    assert estimates.kde_peak([]) is None
    assert estimates.kde_peak([10, 11, 12, 10, 11, 500]) in range(9, 13)
    assert estimates.percentile([1, 2, 3, 4], 50) == 2.5 and estimates.percentile([5], 95) == 5
    assert estimates.percentile(list(range(101)), 95) == 95
    assert estimates.Estimate(1, 3, 60, 90, 125).text == "usually takes about 2 minutes"
    assert estimates.Estimate(1, 9, 60, 250, 59).text == ("usually takes about 59 seconds; 95 % of runs within "
                                                          "4 minutes")
    assert estimates.Estimate(1, 0, None, None, None).text == ""


def test_errors_from_inside_run_pipeline_get_aa_answers():
    r = _refusal(TooManyActive("too many", limit=15, active=15), "psipred")
    assert (r.status_code, r.error) == (429, "You have no authority to post jobs.Either you are not logged in you "
                                             "have too many, 15, concurrent jobs running")
    r = _refusal(InputNotValid("not FASTA", validator="seq"), "psipred")
    assert (r.status_code, r.error) == (400, {"input_data": ["Input data could not be validated"]})
    r = _refusal(ParameterRefused("Parameter n must be a whole number.", field="parameters.n"), "psipred")
    assert r.status_code == 400 and r.error.startswith("Required Parameter for psipred Missing.Parameter n must")


def _run(*steps):
    """A run's root and steps: (order, status, task) per step lodged; the plan has orders 0, 5, 5, 9."""
    from app.models import Job

    plan = [{"order": o, "task": t, "task_id": i} for i, (o, t) in enumerate([(0, "a"), (5, "b"), (5, "c"), (9, "d")])]
    jobs = [Job(id=f"j{i}", owner="x", job_type="PIPELINE", job_subtype="RUN_TASK", status=status, step=order,
                payload={"task": task, "plan": plan}, info=info)
            for i, (order, status, task, info) in enumerate(steps)]
    return jobs[0], jobs


@pytest.mark.parametrize("steps,want", [
    ([(0, "PENDING", "a", "")], (0, "Submitted")),
    ([(0, "DEQUEUED", "a", "")], (1, "Running step: 1")),
    ([(0, "SUCCEEDED", "a", ""), (5, "PENDING", "b", ""), (5, "PENDING", "c", "")], (1, "Completed step: 1")),
    ([(0, "SUCCEEDED", "a", ""), (5, "IN_PROGRESS", "b", ""), (5, "SUCCEEDED", "c", "")], (1, "Running step: 2")),
    ([(0, "SUCCEEDED", "a", ""), (5, "SUCCEEDED", "b", ""), (5, "SUCCEEDED", "c", ""), (9, "SUCCEEDED", "d", "")],
     (2, "Completed job at step #3")),
    # parallel steps: Complete only when every step of the plan is
    ([(0, "SUCCEEDED", "a", ""), (5, "SUCCEEDED", "b", ""), (5, "IN_PROGRESS", "c", "")], (1, "Running step: 2")),
    ([(0, "SUCCEEDED", "a", ""), (5, "FAILED", "b", "b: bin/x exited with code 3; accepted: 0"),
      (5, "SUCCEEDED", "c", "")], (3, "Failed at step: 2: b with exit status 3")),
    ([(0, "CANCELLED", "a", "")], (3, "Cancelled at step: 1: a")),
    ([(0, "SUCCEEDED", "a", ""), (5, "CRASHED", "b", "")], (4, "Crashed at step: 2: b")),
])
def test_a_runs_state_and_last_message(steps, want):
    root, jobs = _run(*steps)
    assert aa.run_state(root, jobs) == want


def test_a_batch_state():
    assert aa.batch_state([0, 0]) == 0 and aa.batch_state([1, 0]) == 1 and aa.batch_state([2, 1]) == 1
    assert aa.batch_state([2, 2]) == 2 and aa.batch_state([2, 3, 1]) == 3 and aa.batch_state([4, 2]) == 4
