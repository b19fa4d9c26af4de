"""Identity resolution: records and event actors → unified user ids."""
