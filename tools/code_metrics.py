"""Print the shape of memvault's source: median file length and long functions.

Run from the repository root: ``python tools/code_metrics.py`` (or with ``--json``).
Counts every ``*.py`` file of the application packages (domain, application, adapters,
entrypoints) and the top-level composition modules; tests, bench, tools and migrations
are shape of their own and reported apart with ``--all``. A file's length is its
physical line count; a function's length runs from its ``def`` line (decorators
excluded) to its last line, nested functions counted on their own as well.
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

SOURCE = ("domain", "application", "adapters", "entrypoints")
OTHER = ("tests", "bench", "tools", "alembic")
LONG_FUNCTION = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class Shape:
    files: int
    median_file_lines: float
    functions: int
    median_function_lines: float
    long_functions: int

    @property
    def long_share(self) -> float:
        return self.long_functions / self.functions if self.functions else 0.0


def python_files(root: Path, folders: tuple[str, ...], *, top_level: bool) -> list[Path]:
    found = [path for folder in folders for path in sorted((root / folder).rglob("*.py"))]
    if top_level:
        found += sorted(root.glob("*.py"))
    return found


def function_lengths(tree: ast.AST) -> list[int]:
    return [
        (node.end_lineno or node.lineno) - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def measure(files: list[Path]) -> Shape:
    file_lines: list[int] = []
    functions: list[int] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        file_lines.append(len(text.splitlines()))
        functions += function_lengths(ast.parse(text, filename=str(path)))
    return Shape(
        files=len(file_lines),
        median_file_lines=statistics.median(file_lines) if file_lines else 0.0,
        functions=len(functions),
        median_function_lines=statistics.median(functions) if functions else 0.0,
        long_functions=sum(1 for length in functions if length > LONG_FUNCTION),
    )


def report(name: str, shape: Shape) -> str:
    return (
        f"{name:<8} files {shape.files:>4}  median file {shape.median_file_lines:>6.1f} lines  "
        f"functions {shape.functions:>5}  median function {shape.median_function_lines:>4.1f} "
        f"lines  over {LONG_FUNCTION} lines {shape.long_functions:>4} "
        f"({100 * shape.long_share:.1f}%)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=".", type=Path)
    parser.add_argument("--all", action="store_true", help="also report tests, bench, tools")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    options = parser.parse_args(argv)
    shapes = {"source": measure(python_files(options.root, SOURCE, top_level=True))}
    if options.all:
        shapes["other"] = measure(python_files(options.root, OTHER, top_level=False))
    if options.json:
        print(json.dumps({k: {**asdict(v), "long_share": v.long_share} for k, v in shapes.items()}))
    else:
        for name, shape in shapes.items():
            print(report(name, shape))
    return 0


if __name__ == "__main__":
    sys.exit(main())
