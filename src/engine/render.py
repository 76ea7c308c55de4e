"""Templates of the generated files, and the layout rules that keep their output lint-clean.

A template is a Jinja file in `src/engine/templates/`; a project's own file of the same name
in `featwright/templates/` is used in its place. Templates write code already formatted as
`ruff format` would (line length 100): they call `wrap` on a statement that may grow past it
and `import_block` on the imports they collect, so `add` needs no formatter at run time.
"""

import ast
import contextlib
import re
import sys
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    TemplateSyntaxError,
)
from jinja2.bccache import Bucket

LINE_LENGTH = 100
"""pyproject.toml's: what ruff formats to and what `ruff check` holds lines to."""
INDENT = 4
BUILTIN = Path(__file__).parent / "templates"
COMPILED = BUILTIN / "__pycache__"
"""The templates as Jinja compiled them (the project's overrides too), kept like .pyc files."""
OVERRIDES = Path("featwright/templates")
"""Where a project keeps its own templates, relative to its root."""
FIRST_PARTY = frozenset({"src", "tests", "migrations"})


class TemplateProblem(Exception):
    """A template that does not render: `path:line: problem`."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path, self.line = path, line
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


@dataclass(frozen=True)
class TemplateFile:
    name: str
    path: Path
    overridden: bool


def builtin_names() -> list[str]:
    return sorted(
        str(p.relative_to(BUILTIN))
        for p in BUILTIN.rglob("*")
        if p.is_file() and p.name[0] != "." and COMPILED not in p.parents
    )


def templates(root: Path) -> list[TemplateFile]:
    """Every built-in template, and whether `root` overrides it."""
    return [
        TemplateFile(name, template_path(root, name), (root / OVERRIDES / name).is_file())
        for name in builtin_names()
    ]


def template_path(root: Path, name: str) -> Path:
    """The file used for template `name` in the project at `root`: its own, else built-in."""
    override = root / OVERRIDES / name
    return override if override.is_file() else BUILTIN / name


class Renderer:
    """Renders templates for the project at `root`, its overrides first."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.environment = Environment(  # noqa: S701 (writes Python source, not HTML)
            loader=ChoiceLoader([FileSystemLoader(root / OVERRIDES), FileSystemLoader(BUILTIN)]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            extensions=["jinja2.ext.do"],
            bytecode_cache=CompiledTemplates(),
        )
        self.environment.filters.update(
            wrap=wrap,
            docstring=docstring,
            py=python_literal,
            import_block=import_block,
            pascal=pascal,
        )

    def render(self, name: str, **context: Any) -> str:
        """The template's text for `context`; TemplateProblem names the file and line of a
        template (or of a file it imports) that cannot be read or rendered."""
        try:
            return self.environment.get_template(name).render(**context)
        except TemplateSyntaxError as error:
            path = Path(error.filename) if error.filename else template_path(self.root, name)
            raise TemplateProblem(self._shown(path), error.lineno, error.message or "") from None
        except Exception as error:  # an override may fail in any way: say where
            raised_in, line = self._raised_at(error.__traceback__)
            shown = self._shown(raised_in or template_path(self.root, name))
            raise TemplateProblem(shown, line, str(error)) from None

    def render_python(self, name: str, path: str, **context: Any) -> str:
        """`render()`, for a template that writes the Python module `path`: one that is not
        valid Python (an override's mistake) is refused before anything is written."""
        text = self.render(name, **context)
        try:
            compile(text, path, "exec", dont_inherit=True)
        except SyntaxError as error:
            raise TemplateProblem(
                self._shown(template_path(self.root, name)),
                None,
                f"renders {path} that is not valid Python ({error.msg}, its line {error.lineno})",
            ) from None
        return text

    def _shown(self, path: Path) -> str:
        if path.is_relative_to(self.root / OVERRIDES):
            return str(path.relative_to(self.root))
        return f"built-in {path.relative_to(BUILTIN) if path.is_relative_to(BUILTIN) else path}"

    def _raised_at(self, trace: TracebackType | None) -> tuple[Path | None, int | None]:
        """The template file and line an error was raised at, the innermost one: Jinja puts
        the templates' frames into the traceback under their file names."""
        found: tuple[Path | None, int | None] = (None, None)
        roots = (self.root / OVERRIDES, BUILTIN)
        while trace is not None:
            filename = Path(trace.tb_frame.f_code.co_filename)
            if any(filename.is_relative_to(root) for root in roots):
                found = (filename, trace.tb_lineno)
            trace = trace.tb_next
        return found


class CompiledTemplates(FileSystemBytecodeCache):
    """Templates compiled once and kept, as Python keeps a module's bytecode: `add` then
    skips Jinja's compiler, a tenth of a second. An entry serves only the file it was
    compiled from, and only while that file's text is the same; none is written when Python
    writes no bytecode either, or where it cannot be."""

    def __init__(self) -> None:
        super().__init__(str(COMPILED))

    def dump_bytecode(self, bucket: Bucket) -> None:
        if sys.dont_write_bytecode:
            return
        with contextlib.suppress(OSError):
            COMPILED.mkdir(exist_ok=True)
            super().dump_bytecode(bucket)


# ------------------------------------------------------------------------------- filters


def python_literal(value: object) -> str:
    """`value` as Python source with double quotes, as ruff formats a string; a long run of
    one character as `"x" * 300`, so a line stays within the line length."""
    if isinstance(value, str):
        if len(value) > 20 and len(set(value)) == 1:
            return f"{python_literal(value[0])} * {len(value)}"
        return _string_literal(value)
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, tuple):
        items = [python_literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    return repr(value)


def _string_literal(value: str) -> str:
    """A string in the quotes ruff chooses: double, unless the text holds more double quotes
    than single ones; only the chosen quote is escaped."""
    quote = "'" if value.count('"') > value.count("'") else '"'
    body = "".join("\\" + char if char == quote else repr(char)[1:-1] for char in value)
    return quote + body + quote


def docstring(summary: str, body: str = "") -> str:
    """A module docstring: `summary` (wrapped when too long for one line, which ruff does not
    do), then `body` as a paragraph of its own."""
    if len(summary) + 6 > LINE_LENGTH:
        summary = textwrap.fill(
            summary, width=LINE_LENGTH - 6, break_long_words=False, break_on_hyphens=False
        )
    return f'"""{summary}\n\n{body}\n"""' if body else f'"""{summary}"""'


def pascal(name: str) -> str:
    """`time_entries` -> `TimeEntries`."""
    return "".join(part.capitalize() for part in name.split("_"))


# ------------------------------------------------------------------------------- imports


def import_block(statements: Iterable[str]) -> str:
    """Import statements sorted, merged and sectioned as ruff's isort rules (I001) want:
    standard library, third party, first party; `import x` before `from x import y`."""
    plain: dict[int, set[str]] = {}
    members: dict[int, dict[str, set[str]]] = {}
    for statement in statements:
        node = ast.parse(statement).body[0]
        if isinstance(node, ast.Import):
            for alias in node.names:
                text = alias.name + (f" as {alias.asname}" if alias.asname else "")
                plain.setdefault(_section(alias.name), set()).add(text)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = members.setdefault(_section(node.module), {})
            names = modules.setdefault(node.module, set())
            names.update(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
    sections = []
    for section in sorted(plain.keys() | members.keys()):
        lines = [f"import {name}" for name in sorted(plain.get(section, ()), key=_module_key)]
        for module in sorted(members.get(section, {}), key=_module_key):
            lines.append(_from_import(module, sorted(members[section][module], key=_member_key)))
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def _section(module: str) -> int:
    top = module.split(".")[0]
    if top == "__future__":
        return 0
    if top in sys.stdlib_module_names:
        return 1
    return 3 if top in FIRST_PARTY else 2


def _module_key(module: str) -> tuple[str, str]:
    return module.lower(), module


def _member_key(name: str) -> tuple[int, str, str]:
    """Constants, then classes, then the rest (ruff's `order-by-type`)."""
    bare = name.split(" as ")[0]
    kind = 0 if bare.isupper() and len(bare) > 1 else 1 if bare[:1].isupper() else 2
    return kind, bare.lower(), bare


def _from_import(module: str, names: list[str]) -> str:
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= LINE_LENGTH:
        return line
    return f"from {module} import (\n" + "".join(f"    {name},\n" for name in names) + ")"


# ------------------------------------------------------------------------------ wrapping

OPENING = "([{"
CLOSING = ")]}"


def wrap(text: str) -> str:
    """One statement (its lines joined, the first one's indentation kept) laid out as
    `ruff format` lays it out: as is when it fits; else split at its last bracket whose
    opening line fits, the inside on one line if it fits there, or one item per line with a
    trailing comma."""
    statement = text.strip("\n")
    code = ""
    for line in (line.strip() for line in statement.splitlines()):
        joined = not code or code[-1] in OPENING or line[:1] in CLOSING
        code += line if joined else " " + line
    indent = len(statement) - len(statement.lstrip(" "))
    return "\n".join(_lines(code, indent, statement=True)) + ("\n" if text.endswith("\n") else "")


def _lines(code: str, indent: int, statement: bool = False) -> list[str]:
    pad = " " * indent
    if indent + len(code) <= LINE_LENGTH:
        return [pad + code]
    inner = indent + INDENT
    equals = _assignment(code) if statement else None
    brackets = list(_trailing_brackets(code))
    if code.startswith(("def ", "async def ")):  # ruff splits the parameters before the
        brackets.sort(key=lambda pair: pair[0] != code.find("("))  # return annotation
    for opening, closing in brackets:
        head, body, tail = code[: opening + 1], code[opening + 1 : closing], code[closing:]
        if (equals is None or opening > equals) and indent + len(head) <= LINE_LENGTH:
            break
    else:
        return _unbracketed(code, indent, equals if statement else None)
    items = _split_top(body, ",")
    parameters = code.startswith(("def ", "async def ")) and code.find("(") == opening
    # a tuple, list, dict or set literal: a bracket that follows no name, call or subscript
    literal = opening == 0 or not (code[opening - 1].isalnum() or code[opening - 1] in "_)]")
    # ruff gives a lone parameter, and a literal's items, a trailing comma: one per line
    one_per_line = (parameters and len(items) == 1) or (literal and len(items) > 1)
    if not one_per_line and inner + len(body) <= LINE_LENGTH:
        inside = [" " * inner + body]
    elif not one_per_line and len(items) == 1:
        inside = _lines(body, inner)
    else:
        inside = [line for item in items for line in _lines(item + ",", inner)]
    return [pad + head, *inside, *_lines(tail, indent)]


def _unbracketed(code: str, indent: int, equals: int | None) -> list[str]:
    """A statement no trailing bracket of its right-hand side can split: ruff puts the
    right-hand side, or else the annotation, in parentheses of their own, or splits the
    annotation's own brackets and then lays out what follows them."""
    pad, inner = " " * indent, indent + INDENT
    if code[:1] in "\"'":
        return [pad + code]  # a string: its `: ` is text, not an annotation
    target, value = (code, "") if equals is None else (code[:equals].rstrip(), code[equals + 2 :])
    name, colon, annotation = target.partition(": ")
    if equals is not None and indent + len(target) + 4 <= LINE_LENGTH:
        if inner + len(value) > LINE_LENGTH:
            return [pad + code]  # nothing to gain: ruff leaves it long too
        return [pad + target + " = (", *_lines(value, inner), pad + ")"]
    if not colon or code.endswith(":") or (equals is None and "(" in name):
        return [pad + code]  # not an annotated name: left as it is
    after = f" = {value}" if equals is not None else ""
    brackets = list(_trailing_brackets(annotation))
    if annotation.endswith(("]", ")")) and brackets and brackets[0][1] == len(annotation) - 1:
        opening = brackets[0][0]
        head, body = f"{name}: {annotation[: opening + 1]}", annotation[opening + 1 : -1]
        return [pad + head, *_lines(body, inner), *_lines(annotation[-1] + after, indent)]
    return [pad + name + ": (", *_lines(annotation, inner), *_lines(")" + after, indent)]


def _assignment(code: str) -> int | None:
    """Where the `=` of an assignment statement is, or None."""
    depth = 0
    for index, char in _code_chars(code):
        if char in OPENING:
            depth += 1
        elif char in CLOSING:
            depth -= 1
        elif char == "=" and depth == 0 and code[index - 1 : index + 2] == " = ":
            return index
    return None


def _trailing_brackets(code: str) -> Iterator[tuple[int, int]]:
    """(opening, closing) of the outermost bracket pairs, the last one first; empty ones and
    those inside strings are not split at."""
    pairs, stack = [], []
    for index, char in _code_chars(code):
        if char in OPENING:
            stack.append(index)
        elif char in CLOSING and stack:  # a line may begin with the closer of the one before
            opening = stack.pop()
            if not stack and index > opening + 1:
                pairs.append((opening, index))
    return reversed(pairs)


def _split_top(body: str, separator: str) -> list[str]:
    """`body` split at `separator` where it is outside brackets and strings."""
    parts, depth, start = [], 0, 0
    for index, char in _code_chars(body):
        if char in OPENING:
            depth += 1
        elif char in CLOSING:
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(body[start:index].strip())
            start = index + 1
    last = body[start:].strip()
    return [*parts, last] if last else parts


STRING = re.compile(r"""[rbf]*("([^"\\]|\\.)*"|'([^'\\]|\\.)*')""", re.IGNORECASE)


def _code_chars(code: str) -> Iterator[tuple[int, str]]:
    """Each character of `code` outside string literals, with its index."""
    index = 0
    while index < len(code):
        match = STRING.match(code, index) if code[index] in "\"'rbfRBF" else None
        if match and (index == 0 or not (code[index - 1].isalnum() or code[index - 1] == "_")):
            index = match.end()
            continue
        yield index, code[index]
        index += 1
