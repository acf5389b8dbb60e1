"""The S3 layer's one reading of boto errors: refusals and missing keys are terminal,
an unreachable endpoint or a failed transfer transient. Real botocore/boto3 objects."""

from __future__ import annotations

import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from ferry.exceptions import kind_of
from ferry.s3 import (
    MIB,
    S3Failed,
    S3Missing,
    S3Refused,
    S3Unreachable,
    mapped,
    s3_errors,
    transfer_config_args,
    without_credentials,
)


def client_error(code: str, operation: str = "PutObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} says S3"}}, operation)


@pytest.mark.parametrize(
    "code", ["NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"]
)
def test_a_refusal_is_terminal_and_keeps_its_code(code):
    error = mapped(client_error(code))
    assert isinstance(error, S3Refused) and error.code == code
    assert kind_of(error) == "terminal" and error.retryable is False
    assert error.reason.startswith(f"ClientError: An error occurred ({code})")


@pytest.mark.parametrize("code", ["NoSuchKey", "404", "NotFound"])
def test_no_object_at_the_key_is_missing(code):
    error = mapped(client_error(code, "GetObject"))
    assert isinstance(error, S3Missing) and kind_of(error) == "terminal"


@pytest.mark.parametrize("code", ["InternalError", "SlowDown", "ServiceUnavailable"])
def test_other_answers_of_s3_may_pass_on_another_try(code):
    error = mapped(client_error(code))
    assert isinstance(error, S3Failed) and error.code == code
    assert kind_of(error) == "transient" and error.retryable is True


def test_an_upload_refused_inside_a_multipart_transfer_is_terminal():
    wrapped = S3UploadFailedError(
        "Failed to upload /tmp/x.csv to b/k: An error occurred (AccessDenied) when calling "
        "the UploadPart operation: Access Denied"
    )
    error = mapped(wrapped)
    assert isinstance(error, S3Refused) and error.code == "AccessDenied"


def test_an_upload_that_failed_otherwise_is_retried():
    wrapped = S3UploadFailedError(
        "Failed to upload /tmp/x.csv to b/k: An error occurred (RequestTimeout) when calling "
        "the UploadPart operation: idle"
    )
    assert isinstance(mapped(wrapped), S3Unreachable)


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
    ],
    ids=type,
)
def test_an_unreachable_endpoint_is_transient_and_says_where(error):
    found = mapped(error)
    assert isinstance(found, S3Unreachable) and kind_of(found) == "transient"
    assert "http://127.0.0.1:9" in found.reason and found.code == ""


def test_no_credentials_is_retried_after_the_connection_is_fixed():
    found = mapped(NoCredentialsError())
    assert isinstance(found, S3Failed)
    assert found.reason == "NoCredentialsError: Unable to locate credentials"


def test_errors_of_others_are_not_s3s_and_pass_through():
    assert mapped(KeyError("x")) is None
    with pytest.raises(KeyError), s3_errors():
        raise KeyError("x")


def test_a_mapped_error_keeps_the_boto_error_as_its_cause():
    original = client_error("NoSuchBucket")
    with pytest.raises(S3Refused) as raised, s3_errors():
        raise original
    assert raised.value.__cause__ is original


def test_multipart_size_comes_from_the_environment_with_s3s_minimum(monkeypatch):
    monkeypatch.delenv("FERRY_S3_MULTIPART_MB", raising=False)
    assert transfer_config_args() == {
        "multipart_threshold": 16 * MIB, "multipart_chunksize": 16 * MIB, "max_concurrency": 4
    }  # fmt: skip
    monkeypatch.setenv("FERRY_S3_MULTIPART_MB", "64")
    assert transfer_config_args(2)["multipart_chunksize"] == 64 * MIB
    monkeypatch.setenv("FERRY_S3_MULTIPART_MB", "1")
    assert transfer_config_args()["multipart_threshold"] == 5 * MIB


def test_an_endpoint_is_shown_without_credentials():
    assert without_credentials("http://key:secret@minio:9000/") == "http://minio:9000/"
    assert without_credentials("https://s3.amazonaws.com") == "https://s3.amazonaws.com"
