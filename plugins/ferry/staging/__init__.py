"""Staging: where a run lives (location, pure) and moving its files (transfer, I/O).

See ferry.staging.location for FERRY_STAGING and a run's folder and URL, and
ferry.staging.transfer for publishing to and fetching from remote staging.
"""

from ferry.staging.location import (
    DOWNLOADS_AREA,
    IMPORTS_AREA,
    Remote,
    RunLocation,
    StagingConfigError,
    cache_root,
    parse_root,
    run_location,
    shared_remote,
)
from ferry.staging.transfer import (
    NotStaged,
    StagingError,
    fetch,
    fetch_tree,
    publish,
    publish_files,
    publish_folder,
    publish_manifest,
    publish_tree,
    read_staged_manifest,
    remote_manifest,
    remote_of,
    staged_manifest,
)

__all__ = [
    "DOWNLOADS_AREA",
    "IMPORTS_AREA",
    "NotStaged",
    "Remote",
    "RunLocation",
    "StagingConfigError",
    "StagingError",
    "cache_root",
    "fetch",
    "fetch_tree",
    "parse_root",
    "publish",
    "publish_files",
    "publish_folder",
    "publish_manifest",
    "publish_tree",
    "read_staged_manifest",
    "remote_manifest",
    "remote_of",
    "run_location",
    "shared_remote",
    "staged_manifest",
]
