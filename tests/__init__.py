"""Test package (importable as ``tests``, so test helpers such as ``tests.openai_server``
can be shared)."""

import pytest

# Helper modules imported by test modules get pytest's assertion rewriting too (and no
# "already imported" warning when they are also named in ``pytest_plugins``).
pytest.register_assert_rewrite("tests.openai_server")
