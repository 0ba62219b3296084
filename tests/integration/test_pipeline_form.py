"""The configuration page's pipeline form opened from a saved pipeline, as an admin's
tab opens it: to edit it (its own id and name) or to duplicate it (a new pipeline named
after it, the same steps); another user's tab gets no form."""

from __future__ import annotations

from app.pipelines import config
from app.state.admin_pipeline_edit import PipelineEditState
from tests.integration.console_tab import Tab


def _pipeline(root):
    config.create_task(actor=root, name="form-echo", command="echo {x}",
                       parameters=[{"name": "x", "flag": "", "default": "1"}])
    return config.create_pipeline(actor=root, name="form-two", description="Two in turn",
                                  steps=[{"order": 1, "task": "form-echo"}, {"order": 2, "task": "form-echo"}])


def test_edit_fills_the_pipeline_and_duplicate_a_new_one_named_after_it(users):
    p = _pipeline(users["root"])
    tab = Tab("root").at("/admin/config")
    form = tab.state(PipelineEditState)

    tab.fire(PipelineEditState, "edit_pipeline", "form-two")
    assert (form.pipeline_id, form.p_name, form.p_description) == (p.id, "form-two", "Two in turn")
    assert [(s.order, s.task) for s in form.p_steps] == [("1", "form-echo"), ("2", "form-echo")]

    tab.fire(PipelineEditState, "copy_pipeline", "form-two")
    assert (form.pipeline_id, form.p_name) == (0, "Copy of form-two")
    assert [(s.order, s.task) for s in form.p_steps] == [("1", "form-echo"), ("2", "form-echo")]

    config.create_pipeline(actor=users["root"], name="Copy of form-two", steps=[{"order": 1, "task": "form-echo"}])
    tab.fire(PipelineEditState, "copy_pipeline", "form-two")
    assert form.p_name == "Copy of form-two (2)"


def test_a_users_tab_gets_no_form_and_an_unknown_pipeline_none(users):
    _pipeline(users["root"])
    mine = Tab("alice").at("/admin/config")
    mine.fire(PipelineEditState, "edit_pipeline", "form-two")
    assert mine.state(PipelineEditState).pipeline_open is False
    root = Tab("root").at("/admin/config")
    root.fire(PipelineEditState, "copy_pipeline", "no-such-pipeline")
    assert root.state(PipelineEditState).pipeline_open is False
