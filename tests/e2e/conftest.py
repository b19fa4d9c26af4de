from collections.abc import Iterator

import pytest

from assets.common.paths import DataPaths


@pytest.fixture(scope="module")
def module_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataPaths]:
    """One data directory per test module, so a module can run the pipeline once and inspect it."""
    root = tmp_path_factory.mktemp("cdp")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDP_DATA_DIR", str(root / "data"))
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        mp.delenv("CDP_LANDING_DIR", raising=False)
        (root / "dagster_home").mkdir()
        yield DataPaths(root / "data")
