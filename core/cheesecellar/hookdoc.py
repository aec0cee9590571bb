"""The hook reference: Markdown rendered from the docstrings and banners of hookspecs.py.

Run ``python -m cheesecellar.hookdoc > docs/plugins-hooks.md`` after changing a hook, or
``python -m cheesecellar.hookdoc --check`` to see whether the committed file is current.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType

from cheesecellar import hookspecs

DEFAULT_OUTPUT = Path("docs/plugins-hooks.md")
REGENERATE = "python -m cheesecellar.hookdoc > docs/plugins-hooks.md"
FIRSTRESULT_SENTENCE = "Stops at first non-None result."
SPEC_ATTRIBUTE = "cheesecellar_spec"

_BANNER = re.compile(r"^# -+ (?P<title>.+?) -+$")
_FIELD = re.compile(r"^:(?P<kind>param|returns)(?: (?P<name>\w+))?:\s*(?P<text>.*)$")
_VERSIONADDED = re.compile(r"^\.\. versionadded:: (?P<version>\S+)\s*$")
_ROLE = re.compile(r":(?:func|meth|class|attr|mod|data|exc|obj):`(?P<target>[^`]+)`")
_LITERAL = re.compile(r"``(?P<text>.+?)``")
_SIGNATURE_WIDTH = 100


@dataclasses.dataclass
class HookDoc:
    """What the reference says about one hook."""

    name: str
    section: str
    args: list[str]
    signature: str
    returns_none: bool
    firstresult: bool
    historic: bool
    deprecation: str | None
    paragraphs: list[str] = dataclasses.field(default_factory=list)
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    returns: str | None = None
    versionadded: str | None = None
    has_docstring: bool = False
    says_firstresult: bool = False


def collect_hooks(module: ModuleType = hookspecs) -> list[HookDoc]:
    """Every ``cellar_*`` hook of ``module`` in source order, with its section."""
    source = inspect.getsource(module)
    banners = _banners(source)
    hooks = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("cellar_"):
            section = _section_at(banners, node.lineno)
            hooks.append(_hook_doc(node, section, getattr(module, node.name)))
    return hooks


def _banners(source: str) -> list[tuple[int, str]]:
    found = []
    for lineno, line in enumerate(source.splitlines(), start=1):
        match = _BANNER.match(line.strip())
        if match:
            found.append((lineno, match["title"]))
    return found


def _section_at(banners: list[tuple[int, str]], lineno: int) -> str:
    title = "Other hooks"
    for banner_line, banner_title in banners:
        if banner_line < lineno:
            title = banner_title
    return title[:1].upper() + title[1:]


def _hook_doc(node: ast.FunctionDef, section: str, func) -> HookDoc:
    opts = getattr(func, SPEC_ATTRIBUTE, None) or {}
    warning = opts.get("warn_on_impl")
    hook = HookDoc(
        name=node.name,
        section=section,
        args=[arg.arg for arg in node.args.args],
        signature=_signature(node),
        returns_none=node.returns is None or ast.unparse(node.returns) == "None",
        firstresult=bool(opts.get("firstresult")),
        historic=bool(opts.get("historic")),
        deprecation=None if warning is None else str(warning),
    )
    docstring = ast.get_docstring(node)
    if docstring:
        hook.has_docstring = True
        _parse_docstring(hook, docstring)
    return hook


def _signature(node: ast.FunctionDef) -> str:
    args = [ast.unparse(arg) for arg in node.args.args]
    returns = "" if node.returns is None else f" -> {ast.unparse(node.returns)}"
    line = f"def {node.name}({', '.join(args)}){returns}"
    if len(line) <= _SIGNATURE_WIDTH:
        return line
    inner = "".join(f"    {arg},\n" for arg in args)
    return f"def {node.name}(\n{inner}){returns}"


def _parse_docstring(hook: HookDoc, docstring: str) -> None:
    """Split a docstring into paragraphs, ``:param:`` and ``:returns:`` fields, version."""
    paragraph: list[str] = []
    fields: dict[str, list[str]] = {}
    field: list[str] | None = None
    for line in docstring.splitlines():
        if field is not None and line.startswith((" ", "\t")):
            field.append(line.strip())
            continue
        field = None
        stripped = line.strip()
        match = _FIELD.match(stripped)
        version = _VERSIONADDED.match(stripped)
        if stripped and not match and not version and stripped != FIRSTRESULT_SENTENCE:
            paragraph.append(stripped)
            continue
        _flush(hook, paragraph)
        if match:
            field = fields.setdefault(match["name"] or match["kind"], [match["text"]])
        elif version:
            hook.versionadded = version["version"]
        elif stripped:
            hook.says_firstresult = True
    _flush(hook, paragraph)
    returns = fields.pop("returns", None)
    hook.returns = None if returns is None else " ".join(returns)
    hook.params = {name: " ".join(lines) for name, lines in fields.items()}


def _flush(hook: HookDoc, paragraph: list[str]) -> None:
    if paragraph:
        hook.paragraphs.append("\n".join(paragraph))
        paragraph.clear()


def docstring_problems(hooks: list[HookDoc]) -> list[str]:
    """What the docstrings of ``hooks`` lack; an empty list means they are complete."""
    problems = []
    for hook in hooks:
        where = f"{hook.name}:"
        if not hook.has_docstring:
            problems.append(f"{where} no docstring")
            continue
        if hook.versionadded is None:
            problems.append(f"{where} no '.. versionadded::'")
        problems.extend(
            f"{where} no ':param {arg}:'" for arg in hook.args if arg not in hook.params
        )
        problems.extend(
            f"{where} ':param {name}:' is not an argument"
            for name in hook.params
            if name not in hook.args
        )
        if hook.firstresult and not hook.says_firstresult:
            problems.append(f"{where} firstresult hook without {FIRSTRESULT_SENTENCE!r}")
        if not hook.returns_none and hook.returns is None:
            problems.append(f"{where} returns a value but has no ':returns:'")
    return problems


# --- Markdown ------------------------------------------------------------------------


def inline(text: str, hook_names: set[str]) -> str:
    """Turn reST inline markup into Markdown; references to hooks become links."""

    def role(match: re.Match) -> str:
        # Without cross-references the full dotted path tells a reader where to import from.
        target = match["target"].lstrip("~")
        if target in hook_names:
            return f"[`{target}`](#{target})"
        return f"`{target}`"

    return _LITERAL.sub(r"`\g<text>`", _ROLE.sub(role, text))


def render(hooks: list[HookDoc], intro: str = "") -> str:
    """The whole reference page as Markdown."""
    names = {hook.name for hook in hooks}
    sections: dict[str, list[HookDoc]] = {}
    for hook in hooks:
        sections.setdefault(hook.section, []).append(hook)
    out = [
        "# Hook reference",
        "",
        "<!-- Generated from core/cheesecellar/hookspecs.py; do not edit by hand.",
        f"     Regenerate with: {REGENERATE} -->",
        "",
    ]
    if intro:
        out += [inline(intro, names), ""]
    out += _contents(sections)
    for title, members in sections.items():
        out += [f"## {title}", ""]
        for hook in members:
            out += _render_hook(hook, names)
    return "\n".join(out).rstrip("\n") + "\n"


def _contents(sections: dict[str, list[HookDoc]]) -> list[str]:
    lines = []
    for title, members in sections.items():
        links = ", ".join(f"[`{hook.name}`](#{hook.name})" for hook in members)
        lines.append(f"- **{title}**: {links}")
    return [*lines, ""]


def _render_hook(hook: HookDoc, names: set[str]) -> list[str]:
    out = [f"### `{hook.name}`", "", "```python", hook.signature, "```", ""]
    notes = []
    if hook.firstresult:
        notes.append("**First result:** calling stops at the first result that is not `None`.")
    if hook.historic:
        notes.append("**Historic:** plugins registered later are called with the past calls.")
    if hook.deprecation:
        notes.append(f"**Deprecated:** {hook.deprecation}")
    if notes:
        out += [" ".join(notes), ""]
    for paragraph in hook.paragraphs:
        out += [inline(paragraph, names), ""]
    if hook.params:
        out += ["Parameters:", ""]
        out += [f"- `{name}`: {inline(text, names)}" for name, text in hook.params.items()]
        out.append("")
    if hook.returns:
        out += [f"Returns: {inline(hook.returns, names)}", ""]
    if hook.versionadded:
        out += [f"*Added in version {hook.versionadded}.*", ""]
    return out


def module_intro(module: ModuleType = hookspecs) -> str:
    """The module docstring without its first (summary) line."""
    doc = inspect.getdoc(module) or ""
    _, _, rest = doc.partition("\n")
    return rest.strip()


def generate(module: ModuleType = hookspecs) -> str:
    """The reference for ``module`` as it should be committed."""
    return render(collect_hooks(module), module_intro(module))


# --- command line --------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cheesecellar.hookdoc",
        description="Print the hook reference generated from cheesecellar/hookspecs.py.",
    )
    parser.add_argument(
        "--check",
        nargs="?",
        const=DEFAULT_OUTPUT,
        type=Path,
        metavar="FILE",
        help=f"compare with FILE (default {DEFAULT_OUTPUT}) instead of printing; exit 1 if stale",
    )
    args = parser.parse_args(argv)
    hooks = collect_hooks()
    problems = docstring_problems(hooks)
    for problem in problems:
        print(f"hookspecs: {problem}", file=sys.stderr)
    text = render(hooks, module_intro())
    if args.check is None:
        sys.stdout.write(text)
        return 1 if problems else 0
    if not args.check.exists() or args.check.read_text(encoding="utf-8") != text:
        print(f"{args.check} is out of date; regenerate it with: {REGENERATE}", file=sys.stderr)
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
