"""The Spark engine's tests: they need Java 17 and pyspark, and skip saying which is missing."""

import importlib.util
import shutil

import pytest

NEEDS_SPARK = [
    pytest.mark.skipif(
        shutil.which("java") is None, reason="the Spark engine needs Java 17 (.ci/run installs it)"
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None, reason='pyspark is missing: pip install -e ".[spark]"'
    ),
]
