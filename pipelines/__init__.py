"""o2o-cdp's Dagster code location: configuration, resources, jobs, schedules, sensors and the CLI."""

import warnings

# BackfillPolicy.single_run() (one run for a range of daily partitions) is marked beta; it is the
# documented way to ingest many days in one run, so its warning is noise for our users.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=Warning)
