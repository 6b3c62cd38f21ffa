"""Makes tests/support (the launchers and helpers every Python suite shares) importable as `support` in every
suite under tests/: pytest loads this file before any suite's own conftest.py. Scripts run outside pytest
(bench/*.py) put tests/ on sys.path themselves."""

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
