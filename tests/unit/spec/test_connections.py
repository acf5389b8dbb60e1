"""include/connections.yaml: an export whose owner may not use a connection does not load,
and the error names the owner, the connection and where the export uses it."""

from __future__ import annotations

from cli_runner import run_ferry
from ferry.spec.loader import broken_key, load_project

from .helpers import write

ORDERS_TO_S3 = """\
id: orders_to_s3
name: Orders to S3
owner: {owner}
source: {{table: lead}}
fields: [lead_id, state]
destinations:
  - {{type: download}}
  - {{type: s3, connection: aws_archive, bucket: archive,
     path: "leads/{{{{ ds }}}}_{{{{ part }}}}.csv"}}
"""


def errors_of(include, name: str) -> list[str]:
    return [str(error) for error in load_project(include).broken.get(name, [])]


def share(include, text: str) -> None:
    write(include, "connections.yaml", text)


def own_errors(include) -> list[str]:
    """The errors of connections.yaml itself."""
    key = broken_key(include / "connections.yaml")
    return [str(error) for error in load_project(include).broken.get(key, [])]


def test_unlisted_connections_are_open_to_every_owner(include):
    share(include, "connections:\n  pg_crm: {shared_with: [data-platform]}\n")

    project = load_project(include)

    assert project.errors == []
    assert project.connections["pg_crm"].shared_with == ["data-platform"]


def test_a_destination_connection_not_shared_with_the_owner_names_both(include):
    share(include, "connections:\n  aws_archive: {shared_with: [data-platform, finance]}\n")
    write(include, "exports/orders_to_s3.yaml", ORDERS_TO_S3.format(owner="marketing"))

    errors = errors_of(include, "exports.orders_to_s3")

    assert errors == [
        "include/exports/orders_to_s3.yaml:8 -> destinations[1].connection -> owner "
        "'marketing' may not use connection 'aws_archive' (destination s3): connections.yaml "
        "shares it with data-platform, finance; ask an administrator to add marketing to "
        "connections.aws_archive.shared_with in connections.yaml, or give the export an "
        "owner it is shared with"
    ]


def test_an_owner_it_is_shared_with_loads(include):
    share(include, "connections:\n  aws_archive: {shared_with: [data-platform, finance]}\n")
    write(include, "exports/orders_to_s3.yaml", ORDERS_TO_S3.format(owner="finance"))

    assert "orders_to_s3" in load_project(include).exports


def test_the_connection_of_the_table_read_counts_too(include):
    share(include, "connections:\n  ferry_warehouse: {shared_with: [data-platform]}\n")

    project = load_project(include)

    # the shipped marketing-ops exports read tables on ferry_warehouse; data-platform's load
    assert "daily_lead_backup" in project.exports
    refused = [str(e) for e in project.broken["exports.mailchimp_high_value"]]
    assert len(refused) == 1
    assert "-> source.segment -> owner 'marketing-ops' may not use connection " in refused[0]
    assert "'ferry_warehouse' (table 'customer_profile')" in refused[0]


def test_shared_with_no_one_refuses_every_owner(include):
    share(include, "connections:\n  aws_archive: {shared_with: []}\n")
    write(include, "exports/orders_to_s3.yaml", ORDERS_TO_S3.format(owner="finance"))

    assert "shares it with no one" in errors_of(include, "exports.orders_to_s3")[0]


def test_a_connection_listed_twice_is_refused_where_and_closed(include):
    share(
        include,
        "connections:\n"
        "  aws_archive: {shared_with: [finance]}\n"
        "  pg_crm: {shared_with: [finance]}\n"
        "  aws_archive: {shared_with: [marketing]}\n",
    )
    write(include, "exports/orders_to_s3.yaml", ORDERS_TO_S3.format(owner="marketing"))

    project = load_project(include)

    own = own_errors(include)
    assert len(own) == 1 and own[0].startswith("include/connections.yaml:4 -> ")
    assert "aws_archive" in own[0]
    assert "pg_crm" in project.connections  # the other entries still count
    refused = errors_of(include, "exports.orders_to_s3")
    assert "until the sharing of 'aws_archive' in connections.yaml loads" in refused[0]


def test_a_mistyped_field_is_located_with_a_suggestion(include):
    share(include, "connections:\n  aws_archive:\n    share_with: [finance]\n")

    errors = own_errors(include)

    assert errors[0].startswith("include/connections.yaml:3 -> connections.aws_archive")
    assert "did you mean 'shared_with'?" in " ".join(errors)
    assert "daily_lead_backup" in load_project(include).exports  # only aws_archive is closed


def test_a_file_that_does_not_load_closes_every_connection(include):
    share(include, "connections: [aws_archive]\n")
    write(include, "exports/orders_to_s3.yaml", ORDERS_TO_S3.format(owner="finance"))

    project = load_project(include)

    assert own_errors(include)
    assert "orders_to_s3" not in project.exports
    assert project.exports == {}  # every export uses ferry_warehouse, now closed


def test_ferry_validate_names_the_owner_and_the_connection(include, monkeypatch):
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    share(include, "connections:\n  aws_archive: {shared_with: [finance]}\n")
    write(include, "exports/orders_to_s3.yaml", ORDERS_TO_S3.format(owner="marketing"))

    result = run_ferry("validate")

    assert result.code != 0
    shown = result.out + result.err
    assert "owner 'marketing' may not use connection 'aws_archive'" in shown
    assert "include/exports/orders_to_s3.yaml:8" in shown
