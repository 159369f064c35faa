"""hitl_core.ros.node_main: a node module imports and answers --help without ROS; started, it raises
the ROS import error it kept."""

from __future__ import annotations

import pytest
from hitl_core.ros import runtime
from hitl_core.ros.node_main import RosImports, run_node


def test_ros_imports_keep_the_first_import_error_and_nothing_else():
    ros = RosImports()
    with ros:
        import hitl_no_such_module_a  # noqa: F401
    first = ros.error
    assert isinstance(first, ImportError) and "hitl_no_such_module_a" in str(first)
    with ros:
        from hitl_no_such_package_b import thing  # noqa: F401
    assert ros.error is first  # one object shared by two import blocks: the first failure is the one raised
    with pytest.raises(ZeroDivisionError), RosImports():
        _ = 1 / 0  # only an ImportError is kept; anything else is a bug and propagates


def test_run_node_answers_help_without_starting_or_raising(capsys, monkeypatch):
    monkeypatch.setattr(runtime, "IN_PROCESS", True)  # no signal handlers installed in the test process
    ros = RosImports()
    with ros:
        import hitl_no_such_module_c  # noqa: F401
    called = []

    def errors():
        called.append("errors")
        return (ValueError,)

    assert run_node(lambda: called.append("node"), ["--help"], "usage: x_node", "x_node", ros, errors) == 0
    assert capsys.readouterr().out.strip() == "usage: x_node"
    assert called == []  # neither the node nor the (possibly heavy) error classes were touched
    with pytest.raises(ImportError, match="hitl_no_such_module_c"):
        run_node(lambda: called.append("node"), ["--ros-args"], "usage: x_node", "x_node", ros, errors)
    assert called == []
