"""Loading Ferry's C parts: a library older than its source is not trusted."""

from __future__ import annotations

import os

import pytest

from ferry.engine import hmac_native, native


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "no"])
def test_a_switch_turns_a_part_off(monkeypatch, value):
    monkeypatch.setenv("FERRY_NATIVE_TEST", value)
    assert native.switched_off("FERRY_NATIVE_TEST")


def test_no_switch_or_another_value_leaves_it_on(monkeypatch):
    monkeypatch.delenv("FERRY_NATIVE_TEST", raising=False)
    assert not native.switched_off("FERRY_NATIVE_TEST")
    monkeypatch.setenv("FERRY_NATIVE_TEST", "on")
    assert not native.switched_off("FERRY_NATIVE_TEST")


def test_a_missing_or_stale_library_is_not_loaded_and_says_what_is_slower(tmp_path, caplog):
    source, library = tmp_path / "part.c", tmp_path / "_part.so"
    source.write_text("int x;\n")
    assert native.load(source, library, "parts are done in SQL") is None
    library.write_bytes(hmac_native.LIBRARY.read_bytes())
    os.utime(library, (1, 1))  # built before its source changed
    assert native.load(source, library, "parts are done in SQL") is None
    assert "_part.so is missing or older than its source: parts are done in SQL" in caplog.text


def test_a_current_library_is_loaded():
    assert native.load(hmac_native.SOURCE, hmac_native.LIBRARY, "") is not None
