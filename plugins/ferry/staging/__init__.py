"""Staging: where a run lives (location, pure) and moving its files (transfer, I/O).

See ferry.staging.location for FERRY_STAGING and a run's folder and URL, and
ferry.staging.transfer for publishing to and fetching from remote staging.
"""

from ferry.staging.location import (
    Remote,
    RunLocation,
    StagingConfigError,
    cache_root,
    parse_root,
    run_location,
)
from ferry.staging.transfer import (
    NotStaged,
    StagingError,
    fetch,
    publish,
    publish_folder,
    publish_manifest,
    read_staged_manifest,
    remote_of,
    staged_manifest,
)

__all__ = [
    "NotStaged",
    "Remote",
    "RunLocation",
    "StagingConfigError",
    "StagingError",
    "cache_root",
    "fetch",
    "parse_root",
    "publish",
    "publish_folder",
    "publish_manifest",
    "read_staged_manifest",
    "remote_of",
    "run_location",
    "staged_manifest",
]
