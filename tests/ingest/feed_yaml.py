"""Feed declarations written as a deployment would, for tests of file shapes and value formats."""

from pathlib import Path

from assets.identity.settings import load_identity_config
from assets.ingest.feeds import FeedConfig, load_feeds_config


def feed_from_yaml(tmp_path: Path, body: str, name: str = "partner") -> FeedConfig:
    """The feed ``name`` declared by ``body`` (YAML under ``feeds:``), checked like any config."""
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n" + body, encoding="utf-8")
    return load_feeds_config(path, load_identity_config()).feeds[name]
