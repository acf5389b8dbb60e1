"""Unit tests, mirroring the packages (tests/unit/<package path>/test_<module>.py).

A package, so a unit test file may share its name with an integration test
(tests/unit/test_refresh.py and tests/integration/test_refresh.py).
"""
