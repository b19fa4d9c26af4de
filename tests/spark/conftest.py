"""What the Spark test modules share: one ``local[2]`` session per module (a module that needs its
session elsewhere, beside a finished run, defines its own), and the sample identity rules with the
hand-built pins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assets.common.pipeline_config import Spark
from assets.common.spark import spark_session
from assets.identity.settings import IdentityConfig, load_identity_config
from tests.spark.identity_data import PINS, SHIPPED


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    session = spark_session(Spark(), Path(tmp_path_factory.mktemp("spark")))
    yield session
    session.stop()


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> IdentityConfig:
    """The shipped identity rules with the pins of ``identity_data.PINS``."""
    path = tmp_path_factory.mktemp("config") / "identity.yaml"
    path.write_text(SHIPPED.read_text(encoding="utf-8") + PINS, encoding="utf-8")
    return load_identity_config(path)
