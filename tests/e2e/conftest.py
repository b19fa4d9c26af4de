from collections.abc import Iterator

import pytest

from assets.common.paths import DataPaths
from tests.e2e.shared_runs import use_deployment


@pytest.fixture(scope="module")
def module_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataPaths]:
    """One data directory per test module, so a module can run the pipeline once and inspect it."""
    root = tmp_path_factory.mktemp("cdp")
    with pytest.MonkeyPatch.context() as mp:
        yield use_deployment(mp, root)
