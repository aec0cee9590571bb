"""The hook reference: every hook documented completely, and the generated page current."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

from cheesecellar import hookdoc
from cheesecellar.plugins import make_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "plugins-hooks.md"
GUIDE = ROOT / "docs" / "plugins.md"
HOOKS = hookdoc.collect_hooks()

FAKE_SPECS = '''\
"""Hooks made up for this test."""
import pluggy

hookspec = pluggy.HookspecMarker("cheesecellar")

# --- things -------------------------------------------------------------------------


@hookspec
def cellar_undocumented(thing):
    pass


@hookspec
def cellar_on_thing(thing, serial):
    """A thing happened; see :func:`cellar_get_thing`.

    :param thing: the ``thing``.
    """


# --- other things -------------------------------------------------------------------


@hookspec(firstresult=True)
def cellar_get_thing(request, name) -> str | None:
    """Return the thing called ``name``.

    :param request: the current request,
        over two lines.
    :param colour: not an argument.

    .. versionadded:: 0.2
    """
'''


@pytest.fixture
def fake_specs(tmp_path):
    path = tmp_path / "fake_hookspecs.py"
    path.write_text(FAKE_SPECS)
    spec = importlib.util.spec_from_file_location("fake_hookspecs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_registered_hook_is_in_the_reference():
    pm = make_plugin_manager(entry_points=False)
    registered = {name for name in vars(pm.hook) if name.startswith("cellar_")}
    assert {hook.name for hook in HOOKS} == registered


@pytest.mark.parametrize("hook", HOOKS, ids=[hook.name for hook in HOOKS])
def test_hook_docstring_is_complete(hook):
    assert hookdoc.docstring_problems([hook]) == []


@pytest.mark.parametrize("hook", HOOKS, ids=[hook.name for hook in HOOKS])
def test_hook_sits_in_a_section(hook):
    assert hook.section != "Other hooks", f"{hook.name} is not under a '# --- ... ---' banner"


def test_committed_reference_is_current():
    committed = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
    assert committed == hookdoc.generate(), (
        f"docs/plugins-hooks.md differs from the hook docstrings; regenerate it with: "
        f"{hookdoc.REGENERATE}"
    )


def test_plugin_guide_links_the_reference():
    assert "(plugins-hooks.md)" in GUIDE.read_text(encoding="utf-8")


def test_check_mode_reports_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "hooks.md"
    stale.write_text("# Hook reference\n")
    assert hookdoc.main(["--check", str(stale)]) == 1
    assert hookdoc.REGENERATE in capsys.readouterr().err
    stale.write_text(hookdoc.generate())
    assert hookdoc.main(["--check", str(stale)]) == 0


def test_problems_name_what_is_missing(fake_specs):
    problems = hookdoc.docstring_problems(hookdoc.collect_hooks(fake_specs))
    assert problems == [
        "cellar_undocumented: no docstring",
        "cellar_on_thing: no '.. versionadded::'",
        "cellar_on_thing: no ':param serial:'",
        "cellar_get_thing: no ':param name:'",
        "cellar_get_thing: ':param colour:' is not an argument",
        "cellar_get_thing: firstresult hook without 'Stops at first non-None result.'",
        "cellar_get_thing: returns a value but has no ':returns:'",
    ]


def test_sections_follow_the_banners(fake_specs):
    hooks = hookdoc.collect_hooks(fake_specs)
    assert [(hook.name, hook.section) for hook in hooks] == [
        ("cellar_undocumented", "Things"),
        ("cellar_on_thing", "Things"),
        ("cellar_get_thing", "Other things"),
    ]


def test_rendering_turns_fields_into_markdown(fake_specs):
    text = hookdoc.render(hookdoc.collect_hooks(fake_specs))
    expected = textwrap.dedent(
        """\
        ### `cellar_get_thing`

        ```python
        def cellar_get_thing(request, name) -> str | None
        ```

        **First result:** calling stops at the first result that is not `None`.

        Return the thing called `name`.

        Parameters:

        - `request`: the current request, over two lines.
        - `colour`: not an argument.

        *Added in version 0.2.*
        """
    )
    assert expected in text
    assert "A thing happened; see [`cellar_get_thing`](#cellar_get_thing)." in text
    assert "## Other things\n" in text
