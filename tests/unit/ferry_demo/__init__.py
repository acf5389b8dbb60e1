"""Tests of the demo package, plugins/ferry_demo/."""
