"""Runs mutmut for ``scripts/mutation.sh``, with its type-check step mapped to mutants by ``ast``, not libcst.

mutmut 3.8 checks every mutant with one ``mypy`` run (``type_check_command`` in ``[tool.mutmut]``) and then
finds, for each error, the mutant function whose lines hold it. To find those lines it parses each mutated
file with libcst and its position metadata: the mutated files hold every copy of every function (``sync/``'s
alone are a few MB), and that parse took about five minutes of CPU on each run, incremental or fresh, before
any mutant ran (docs/testing.md). Python's own parser gives the same first and last line of each function in
well under a second: ``ast`` counts a ``def``'s first line from the ``def`` (decorators apart), as libcst's
position does for the undecorated functions mutmut generates.

Everything else is mutmut's own. The replacement returns exactly what mutmut's function returns; see
``_mutated_functions`` and the check ``python scripts/mutation_run.py --compare`` (run inside ``mutants/``'s
parent after a run), which maps every mutated file both ways and prints any difference.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import mutmut.__main__ as mutmut_main
from mutmut.configuration import config
from mutmut.mutation import file_mutation
from mutmut.mutation.file_mutation import FailedTypeCheckMutant, MutatedMethodLocation
from mutmut.type_checking import run_type_checker
from mutmut.utils.file_utils import change_cwd
from mutmut.utils.format_utils import get_mutant_name, is_mutated_method_name


def _mutated_functions(path: Path, source: str) -> list[MutatedMethodLocation]:
    """Each mutant function in a mutated file with its first and last line, as mutmut's libcst visitor finds them:
    every function named as a mutant, not looking inside one (mutants are never nested in each other)."""
    found: list[MutatedMethodLocation] = []
    pending: list[ast.AST] = [ast.parse(source, filename=str(path))]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and is_mutated_method_name(node.name):
            found.append(MutatedMethodLocation(path, node.name, node.lineno, node.end_lineno or node.lineno))
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def filter_mutants_with_type_checker() -> dict[str, FailedTypeCheckMutant]:
    """mutmut's ``filter_mutants_with_type_checker``, with ``_mutated_functions`` in place of the libcst parse."""
    with change_cwd(Path("mutants")):
        errors = run_type_checker(config().type_check_command)
        errors_by_path = file_mutation.group_by_path(errors)
        skipped: dict[str, FailedTypeCheckMutant] = {}
        for path, errors_of_file in errors_by_path.items():
            functions = _mutated_functions(path, path.read_text(encoding="utf-8"))
            if not functions:
                continue
            for error in errors_of_file:
                function = next(
                    (f for f in functions if f.line_number_start <= error.line_number <= f.line_number_end), None
                )
                if function is None:
                    raise Exception(
                        f"Could not find mutant for type error {error.file_path}:{error.line_number} "
                        f"({error.error_description})"
                    )
                name = get_mutant_name(path.relative_to(Path(".").absolute()), function.function_name)
                skipped[name] = FailedTypeCheckMutant(method_location=function, name=name, error=error)
        return skipped


def compare(root: Path) -> int:
    """Maps every mutated file under ``root`` with libcst (mutmut's way) and with ``ast``; prints differences."""
    import libcst as cst

    differences = 0
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "__mutmut_" not in source:
            continue
        visitor = file_mutation.MutatedMethodsCollector(path)
        cst.MetadataWrapper(cst.parse_module(source)).visit(visitor)
        theirs = sorted((m.function_name, m.line_number_start, m.line_number_end) for m in visitor.found_mutants)
        ours = sorted(
            (m.function_name, m.line_number_start, m.line_number_end) for m in _mutated_functions(path, source)
        )
        if theirs != ours:
            differences += 1
            print(f"{path}: {len(set(theirs) ^ set(ours))} functions differ")
        else:
            print(f"{path}: {len(ours)} functions, the same")
    return 1 if differences else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--compare"]:
        sys.exit(compare(Path(sys.argv[2] if len(sys.argv) > 2 else "mutants")))
    mutmut_main.filter_mutants_with_type_checker = filter_mutants_with_type_checker  # type: ignore[assignment]
    sys.exit(mutmut_main.cli())
