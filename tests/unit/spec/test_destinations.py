"""Where an export's files go: each destination's fields, paths and templates."""

from __future__ import annotations

import pytest

from .helpers import GOOD_EXPORT, errors_of, write


def destination_error(include, destination: str) -> str:
    text = GOOD_EXPORT.format(id="dest").replace("[{type: download}]", f"[{destination}]")
    write(include, "exports/dest.yaml", text)
    [error] = errors_of(include)
    return error


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../../etc/{{ part }}.csv", "'..' or '.' segments"),
        ("/abs/{{ part }}.csv", "must be relative"),
        ("a//{{ part }}.csv", "empty path segment"),
        ("x/{{ dss }}/{{ part }}.csv", "unknown placeholder 'dss'"),
        ("x/{{ part }.csv", "template syntax error"),
    ],
)
def test_unsafe_s3_paths_are_rejected(include, path, problem):
    text = GOOD_EXPORT.format(id="paths").replace(
        "[{type: download}]", f'[{{type: s3, connection: aws, bucket: bkt, path: "{path}"}}]'
    )
    write(include, "exports/paths.yaml", text)
    [error] = errors_of(include)
    assert "destinations[0].path -> path" in error and problem in error


@pytest.mark.parametrize(
    "destination, expected",
    [
        (
            "{type: s3, connection: aws, bucket: ab, path: 'x/{{ part }}.csv'}",
            "destinations[0].bucket -> string should have at least 3 characters",
        ),
        (
            "{type: webhook, connection: hook, endpoint: 'https://evil.example/x'}",
            "must be a path under the connection's URL, not a URL",
        ),
        ("{type: webhook, connection: hook, endpoint: '../up'}", "endpoint '../up'"),
        ("{type: webhook, connection: hook, endpoint: '{{ ds }}'}", "is not a template"),
        ("{type: email, to: []}", "destinations[0].to -> list should have at least 1 item"),
        (
            "{type: email, to: ['a@b.example, {{ export_name }}']}",
            "to[0] -> 'Export' is not an email address",
        ),
        ("{type: ftp, connection: x}", "destinations[0] -> "),
        (
            "{type: download, name: Bad-Name}",
            "destinations[0].name -> 'Bad-Name' is not a valid id",
        ),
    ],
)
def test_a_bad_destination_names_its_line_and_field(include, destination, expected):
    error = destination_error(include, destination)
    assert error.startswith("include/exports/dest.yaml:5 -> destinations[0]")
    assert expected in error


@pytest.mark.parametrize(
    "destination",
    [
        "{type: sftp, connection: box, path: '/upload/{{ ds }}/'}",
        "{type: email, to: ['ops@example.com; data@example.com'], subject: 'Export {{ ds }}'}",
        "{type: webhook, connection: hook, endpoint: 'v1/records?source=ferry'}",
        "{type: s3, connection: aws, bucket: bkt, path: 'daily/{{ ds_nodash }}/{{ file }}'}",
    ],
)
def test_good_destinations_load(include, destination):
    text = GOOD_EXPORT.format(id="dest").replace("[{type: download}]", f"[{destination}]")
    write(include, "exports/dest.yaml", text)
    assert errors_of(include) == []


def test_a_destination_goes_by_its_name_or_its_type():
    from ferry.spec.destinations import DownloadDestination, S3Destination

    assert DownloadDestination(type="download").label == "download"
    named = S3Destination(type="s3", name="archive", connection="aws", bucket="bkt",
                          path="x/{{ part }}.csv")  # fmt: skip
    assert named.label == "archive"


@pytest.mark.parametrize("encryption", ["", ", encryption: AES256"])
def test_a_kms_key_without_aws_kms_encryption_is_refused(include, encryption):
    """S3 would ignore the key (AES256) or fall back to the bucket's default: a mistake."""
    error = destination_error(
        include,
        "{type: s3, connection: aws, bucket: bkt, path: 'x/', kms_key_id: alias/ferry"
        + encryption + "}",
    )  # fmt: skip
    assert error.startswith("include/exports/dest.yaml:5 -> destinations[0].kms_key_id -> ")
    assert "kms_key_id needs encryption: aws:kms" in error, error


def test_a_kms_key_with_aws_kms_encryption_loads(include):
    text = GOOD_EXPORT.format(id="dest").replace(
        "[{type: download}]",
        "[{type: s3, connection: aws, bucket: bkt, path: 'x/', encryption: 'aws:kms', "
        "kms_key_id: alias/ferry}]",
    )
    write(include, "exports/dest.yaml", text)
    assert errors_of(include) == []
