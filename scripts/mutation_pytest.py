"""A pytest plugin for mutation runs only: ``[tool.mutmut]`` loads it (``-p scripts.mutation_pytest``).

mutmut forks one process per mutant from a parent that has already run the whole unit-level selection
once, so every child inherits that parent's large heap. A full garbage collection in the child (pytest
runs one when every session ends, for its unraisable-exception check, and Python runs them as a test
allocates) walks the whole inherited heap and, by touching every object, makes the kernel copy every
page of it: measured at about 150 ms of CPU a mutant, more than most mutants' tests take. Freezing the
objects that exist when pytest starts leaves them out of every later collection. Objects the tests
create are still collected as usual, so no test can pass or fail differently (docs/testing.md).
"""

from __future__ import annotations

import gc

import pytest


def pytest_configure(config: pytest.Config) -> None:
    del config  # the hook's signature; nothing in it is needed
    gc.freeze()
