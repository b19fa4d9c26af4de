from tests.e2e.conftest import module_data_dir

__all__ = ["module_data_dir"]
