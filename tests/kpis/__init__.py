"""Attribution engine: hand-worked cases, reconciliation properties and path building."""
