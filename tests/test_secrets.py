import stat

import yaml

from assets.common.paths import DBT_PROJECT_DIR, DataPaths, hash_salt


def test_salt_is_created_once_outside_the_repo_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("CDP_HASH_SALT", raising=False)
    paths = DataPaths(tmp_path)
    first = hash_salt(paths)
    assert len(first) == 64 and hash_salt(paths) == first
    file = tmp_path / "secrets" / "hash_salt"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert hash_salt(DataPaths(tmp_path / "other")) != first


def test_environment_salt_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_HASH_SALT", "from-the-vault")
    assert hash_salt(DataPaths(tmp_path)) == "from-the-vault"


def test_no_salt_is_committed_in_the_dbt_project():
    salt = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["hash_salt"]
    assert salt == "{{ env_var('CDP_HASH_SALT', '') }}"
