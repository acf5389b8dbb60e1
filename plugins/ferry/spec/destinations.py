"""Where an export's files go: S3, SFTP, email, webhook or download, and their templates."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from ferry.spec import templates
from ferry.spec.base import ByteSize, ConnectionId, Identifier, Spec
from ferry.spec.errors import FieldError

# Templates: only the documented placeholders, checked when the definition loads.
RelativePath = Annotated[str, AfterValidator(templates.relative_path)]
AnyPath = Annotated[str, AfterValidator(templates.absolute_or_relative_path)]
TextTemplate = Annotated[str, AfterValidator(templates.text_template)]
RecipientTemplate = Annotated[str, AfterValidator(templates.recipient_template)]


class _Destination(Spec):
    name: Identifier | None = None

    @property
    def label(self) -> str:
        """What the destination goes by in task ids (deliver_<label>), logs and receipts."""
        return self.name or self.type


class S3Destination(_Destination):
    type: Literal["s3"]
    connection: ConnectionId
    bucket: str = Field(min_length=3)
    path: RelativePath
    encryption: Literal["AES256", "aws:kms"] | None = None
    kms_key_id: str | None = None  # with aws:kms; the bucket's default key when unset

    @model_validator(mode="after")
    def _kms_key_needs_kms(self) -> S3Destination:
        # S3 ignores a key under AES256 and none: the files would not be under that key
        if self.kms_key_id and self.encryption != "aws:kms":
            raise FieldError(
                "kms_key_id",
                f"kms_key_id needs encryption: aws:kms (it is {self.encryption or 'unset'}); "
                "add encryption: aws:kms, or remove kms_key_id",
            )
        return self


class SftpDestination(_Destination):
    type: Literal["sftp"]
    connection: ConnectionId
    path: AnyPath


class EmailDestination(_Destination):
    type: Literal["email"]
    connection: ConnectionId = "smtp_default"
    to: list[RecipientTemplate] = Field(min_length=1)
    subject: TextTemplate = "Ferry export {{ export_name }} for {{ ds }}"
    body: TextTemplate = ""
    max_attachment_bytes: ByteSize = 10_000_000


class WebhookDestination(_Destination):
    type: Literal["webhook"]
    connection: ConnectionId
    endpoint: Annotated[str, AfterValidator(templates.endpoint)] = ""
    mode: Literal["records", "manifest"] = "records"
    batch_size: int = Field(default=500, gt=0, le=100_000)  # one request body in memory
    signing_connection: ConnectionId | None = None
    max_reject_rate: float = Field(default=0.0, ge=0, le=1)
    on_rejects_over: Literal["fail", "warn"] = "fail"


class DownloadDestination(_Destination):
    type: Literal["download"]


Destination = Annotated[
    S3Destination | SftpDestination | EmailDestination | WebhookDestination | DownloadDestination,
    Field(discriminator="type"),
]
