"""Fuzz: thousands of mutated shipped definitions give only clean errors, and hide nothing.

Each mutation changes one shipped file (dropped, duplicated or retyped keys, extreme ints
and dates, long strings, unicode, YAML anchors, random bytes, nearly 20,000 values), then
load_project and the renderer run on the whole include/. Seeded and bounded: FERRY_FUZZ_SEED,
FERRY_FUZZ_SECONDS and FERRY_FUZZ_COUNT change them. A failure prints the mutated text to
reproduce it.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ferry.spec.errors import DefinitionError
from ferry.spec.loader import Project, load_project
from ferry.spec.models import ExportSpec, GroupSpec, ImportSpec, SegmentSpec
from include_copy import copy_include

ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("FERRY_FUZZ_SEED", "20261201"))
COUNT = int(os.environ.get("FERRY_FUZZ_COUNT", "2000"))
TIME_CAP = float(os.environ.get("FERRY_FUZZ_SECONDS", "35"))  # a busy machine runs fewer
FULL_RENDER_EVERY = 25
DAGBAG_SAMPLE = 20

INTERESTING = [
    0, -1, 1, 2**31, 2**63, 10**30, -(10**30), 1.5, float("inf"), float("nan"), True, False,
    None, "", " ", "x" * 101, "y" * 300, "z" * 5000, "é" * 50, "💥", "\u202e", "a\nb",
    "0 0 31 2 *", "0 0 30 2 *", "0 0 29 2 *", "* * * * *", "*/5 * * * *", "@yearly", "once",
    "off", "refresh", "daily", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12",
    "localtime", "Factory", "Mars/Base", "../etc/passwd", dt.date(1, 1, 1),
    dt.date(9999, 12, 31), dt.date(2026, 1, 1), dt.date(2025, 12, 31), dt.date(2400, 2, 29),
    "2026-02-30", [], {}, ["a"], {"a": 1}, [None], ["x" * 101], "{{ ds }}", "../../x", "/abs",
    "Lead Table", "lead", "contact", "high_value_customers", "daily_lead_backup", "download",
]  # fmt: skip
STRINGS = [v for v in INTERESTING if isinstance(v, str)]
INTS = [0, -1, 1, 10, 2**31, 2**63, 10**30, -(10**30), True]
DATES = [v for v in INTERESTING if isinstance(v, dt.date)] + ["2026-02-30", "0000-01-01"]
BOMB = "".join(
    f"x{level}: &x{level} [{', '.join([f'*x{level - 1}' if level else 'lol'] * 9)}]\n"
    for level in range(9)
)
MODELS = {
    "exports": ExportSpec, "segments": SegmentSpec, "groups": GroupSpec, "imports": ImportSpec,
}  # fmt: skip
READER_PROBLEMS = (
    "not valid YAML", "is empty", "aliases expand", "nests deeper", "byte 0x", "is UTF-",
    "has a NUL", "has control", "must be a YAML mapping", "has more than",
)  # fmt: skip
KINDS = ["data", "field", "duplicate", "anchor", "bomb", "bytes", "shape", "many"]
WEIGHTED_KINDS = ["data"] * 4 + ["field"] * 6 + KINDS[2:]
MIN_DONE = 50  # a busy machine runs fewer in the time cap; this few still covers each kind


@dataclass
class Mutation:
    relative: str  # e.g. exports/daily_lead_backup.yaml
    content: bytes
    how: str


class Mutator:
    """Seeded mutations of the shipped definition files."""

    def __init__(self, include: Path, seed: int):
        self.random = random.Random(seed)
        self.files = sorted(
            str(path.relative_to(include))
            for folder in ("exports", "segments", "groups", "imports")
            for path in (include / folder).glob("*.yaml")
        )
        self.catalogues = ["warehouse/tables.yaml", "targets.yaml"]
        self.texts = {f: (include / f).read_text() for f in self.files + self.catalogues}
        self.made = 0

    def next(self) -> Mutation:
        """The first mutations take each kind and each catalogue once; then chance decides."""
        rng, first = self.random, self.made
        self.made += 1
        relative = rng.choice(self.catalogues if rng.random() < 0.04 else self.files)
        relative = self.catalogues[first] if first < len(self.catalogues) else relative
        text = self.texts[relative]
        kind = KINDS[first] if first < len(KINDS) else rng.choice(WEIGHTED_KINDS)
        if kind in ("data", "field"):
            data = yaml.safe_load(text)
            for _ in range(1 if kind == "field" else rng.randint(1, 3)):
                self._mutate_data(data, relative, kind)
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10**6)
        elif kind == "duplicate":
            lines = text.splitlines(keepends=True)
            keyed = [line for line in lines if ":" in line and not line.lstrip().startswith("#")]
            text += rng.choice(keyed) if keyed else ""
        elif kind == "anchor":
            text = "x-shared: &shared " + repr(rng.choice(INTERESTING)) + "\n" + text
            key = rng.choice([k for k in yaml.safe_load(self.texts[relative]) or {"id": 1}])
            text = text.replace(f"\n{key}:", f"\n{key}: *shared\nx-old-{key}:", 1)
        elif kind == "many":  # near the value bound, without an alias
            text += "x-many: [" + ", ".join(["a"] * rng.randint(19_000, 21_000)) + "]\n"
        elif kind == "bomb":
            key = rng.choice(["kind", "pii", "name", "tags", "rules", "members", "schedule"])
            text += BOMB + f"{key}: *x{rng.randint(2, 8)}\n"
        elif kind == "shape":
            text = rng.choice(["", "# only a comment\n", "- a\n- b\n", "just text\n", "{}\n"])
        return Mutation(relative, self._bytes(text, kind), kind)

    def _bytes(self, text: str, kind: str) -> bytes:
        raw = text.encode("utf-8")
        if kind != "bytes":
            return raw
        rng = self.random
        raw = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(raw) + 1)
            raw[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3)))
        return bytes(raw)

    def _mutate_data(self, data, relative: str, kind: str) -> None:
        rng = self.random
        if kind == "field" and isinstance(data, dict):  # every model field, extreme values
            model = MODELS.get(relative.split("/")[0])
            if model:
                name, info = rng.choice(list(model.model_fields.items()))
                data[info.alias or name] = self._typed(str(info.annotation))
                return
        container, key = self._pick(data)
        if container is None:
            return
        action = rng.choice(["drop", "retype", "retype", "rename"])
        if action == "drop" and isinstance(container, dict):
            container.pop(key, None)
        elif action == "rename" and isinstance(container, dict):
            container[rng.choice(["as", "type", "table", "op", "x" * 120, "é"])] = container.pop(
                key
            )
        else:
            container[key] = self._value()

    def _pick(self, data):
        """A random (container, key) anywhere in the document."""
        places = []
        stack = [data]
        while stack:
            node = stack.pop()
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in list(items):
                places.append((node, key))
                if isinstance(value, dict | list):
                    stack.append(value)
        return self.random.choice(places) if places else (None, None)

    def _typed(self, annotation: str):
        """An extreme value of the field's own type, so the rest of the file stays valid."""
        rng = self.random
        if rng.random() < 0.2:
            return self._value()
        for word, pool in (("date", DATES), ("bool", [True, False]), ("int", INTS)):
            if word in annotation:
                return rng.choice(pool)
        if "list" in annotation:
            return [rng.choice(STRINGS) for _ in range(rng.randint(1, 3))]
        return rng.choice(STRINGS)

    def _value(self):
        value = self.random.choice(INTERESTING)
        return (
            list(value)
            if isinstance(value, list)
            else dict(value)
            if isinstance(value, dict)
            else value
        )


def excused(project: Project, relative: str) -> set[str]:
    """Shipped files that may break with the mutated one: what depends on it."""
    folder, stem = relative.split("/")[0], Path(relative).stem
    if folder not in MODELS:
        return set(f"{f}/{p.name}" for f in MODELS for p in (project.root / f).glob("*.yaml"))
    names: set[str] = set()
    if folder == "segments":
        names |= {
            f"exports/{project.files[f'exports:{e.id}'].name}"
            for e in project.exports.values()
            if getattr(e.source, "segment", None) == stem
        }
    affected = {stem} | {Path(n).stem for n in names}
    for group in project.groups.values():
        if affected & {m.job for m in group.members}:
            names.add(f"groups/{project.files[f'groups:{group.id}'].name}")
    return names


def collided(project: Project, shipped: Project, mutation: Mutation) -> set[str]:
    """A mutated file that takes another file's id breaks that file (loaded after it)."""
    names: set[str] = set()
    folder = mutation.relative.split("/")[0]
    ids = {e.problem.split("'")[1] for e in project.errors if "is already used by" in e.problem}
    for spec_id in ids:
        path = shipped.files.get(f"{folder}:{spec_id}")
        if path is not None:
            names |= {f"{folder}/{path.name}"} | excused(shipped, f"{folder}/{path.name}")
    return names


def kind_of(error: DefinitionError) -> str:
    problem = error.problem
    for prefix, kind in (
        ("not valid YAML", "YAML syntax"), ("duplicate key", "duplicate key"),
        ("aliases expand", "alias bound"), ("nests deeper", "depth bound"),
        ("has more than", "size bound"),
        ("byte 0x", "encoding"), ("is UTF-", "encoding"), ("has a NUL", "encoding"),
        ("has control", "encoding"), ("is empty", "empty file"),
        ("must be a YAML mapping", "not a mapping"), ("cannot read", "bad YAML value"),
        ("unknown field", "unknown field"), ("required field", "missing field"),
    ):  # fmt: skip
        if problem.startswith(prefix):
            return kind
    if any(
        word in problem
        for word in (
            "unknown table",
            "unknown segment",
            "unknown target",
            "unknown export",
            "has no column",
            "has errors of",
        )
    ):
        return "cross-file reference"
    return "field value"


def check(project: Project, mutation: Mutation, allowed: set[str], shipped: Project) -> None:
    """Only clean errors, only in the mutated file or what depends on it."""
    files = {f"include/{mutation.relative}"} | {f"include/{name}" for name in allowed}
    for error in project.errors:
        assert isinstance(error, DefinitionError)
        assert "Airflow refused it" not in error.problem, error
        assert "Ferry could not check" not in error.problem, error
        assert error.file in files, error
        assert error.line is not None, error
        assert error.field or error.problem.startswith(READER_PROBLEMS), error
    broken_files = {f"{p.parent.name}/{p.name}" for p in _broken_paths(project)}
    for export_id, path in _shipped_exports(shipped):
        if path not in allowed and path != mutation.relative and path not in broken_files:
            assert export_id in project.exports, f"{export_id} vanished"


def _broken_paths(project: Project) -> list[Path]:
    return [project.root / e.file.removeprefix("include/") for e in project.errors]


def _shipped_exports(shipped: Project):
    return [(e, f"exports/{shipped.files[f'exports:{e}'].name}") for e in shipped.exports]


def render(project: Project, mutation: Mutation, full: bool) -> dict:
    from ferry.render.dags import export_dag, isolated, render_project
    from ferry.render.groups import group_dag, render_groups
    from ferry.render.imports import import_dag, render_imports

    if full:
        return {**render_project(project), **render_groups(project), **render_imports(project)}
    dags = {}
    for file_id, path in project.files.items():
        if f"{path.parent.name}/{path.name}" == mutation.relative:
            folder, spec_id = file_id.split(":")
            builders = {
                "exports": lambda s=spec_id: export_dag(project.exports[s], project),
                "groups": lambda s=spec_id: group_dag(project.groups[s], project),
                "imports": lambda s=spec_id: import_dag(project.imports[s], project),
            }
            if folder not in builders:
                continue
            dag = isolated(project, file_id, builders[folder])
            if dag is not None:
                dags[dag.dag_id] = dag
    return dags


def serialize(dags: dict, mutation: Mutation) -> None:
    """What the DAG processor stores: a DAG that will not serialize is lost there too."""
    from airflow.serialization.serialized_objects import DagSerialization

    stem = Path(mutation.relative).stem
    for dag_id, dag in dags.items():
        if stem in dag_id or dag_id.startswith("ferry_broken__"):
            DagSerialization.to_dict(dag)


def test_mutated_definitions_give_only_clean_errors(tmp_path, monkeypatch, capsys):
    include = copy_include(tmp_path)
    shipped = load_project(include)
    assert shipped.errors == []
    mutator, kinds, hows = Mutator(include, SEED), collections.Counter(), collections.Counter()
    wheres: collections.Counter = collections.Counter()
    sample: list[tuple[Mutation, set[str]]] = []  # with the error DAGs it should give
    started, done, clean = time.monotonic(), 0, 0
    for number in range(COUNT):
        if time.monotonic() - started > TIME_CAP:
            break
        mutation = mutator.next()
        target = include / mutation.relative
        target.write_bytes(mutation.content)
        try:
            project = load_project(include)
            allowed = excused(shipped, mutation.relative) | collided(project, shipped, mutation)
            dags = render(project, mutation, full=number % FULL_RENDER_EVERY == 0)
            serialize(dags, mutation)
            check(project, mutation, allowed, shipped)
        except Exception as failure:
            shown = mutation.content[:2000].decode("utf-8", "replace")
            raise AssertionError(f"{mutation.how} of {mutation.relative}:\n{shown}") from failure
        finally:
            target.write_text(mutator.texts[mutation.relative])
        done += 1
        hows[mutation.how] += 1
        wheres[mutation.relative.split("/")[0]] += 1
        kinds.update(kind_of(error) for error in project.errors)
        clean += not project.errors
        if project.errors and mutation.relative.startswith("exports/") and len(sample) < 200:
            sample.append((mutation, {f"ferry_broken__{key}" for key in project.broken}))
    with capsys.disabled():
        print(
            f"\nfuzz: seed {SEED}, {done} mutations in {time.monotonic() - started:.1f} s "
            f"({dict(hows)}); {clean} still valid; errors by kind: {dict(kinds.most_common())}"
        )
    # what was done, not how fast: each kind of mutation and each kind of file at least once
    assert done >= min(COUNT, MIN_DONE)
    assert set(hows) == set(KINDS[: min(done, len(KINDS))])
    assert set(wheres) == {"exports", "segments", "groups", "imports", "warehouse", "targets.yaml"}
    dagbag_sample = random.Random(SEED).sample(sample, min(DAGBAG_SAMPLE, len(sample)))
    assert dagbag_sample, "no mutated export file to load through the DagBag"
    _through_the_dagbag(include, monkeypatch, shipped, dagbag_sample)


def _through_the_dagbag(include, monkeypatch, shipped, sample: list[tuple]) -> None:
    """A sample through Airflow's own DagBag: every other DAG is there, plus the error DAGs."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    for mutation, broken in sample:
        target = include / mutation.relative
        target.write_bytes(mutation.content)
        try:
            bag = DagBag(dag_folder=str(ROOT / "dags"))
        finally:
            target.write_text((ROOT / "include" / mutation.relative).read_text())
        expected = {f"export__{e}" for e, path in _shipped_exports(shipped)} - {
            f"export__{Path(mutation.relative).stem}"
        }
        shown = mutation.content[:500].decode("utf-8", "replace")
        assert expected <= set(bag.dags), shown
        assert broken and broken <= set(bag.dags), shown
        assert [Path(f).name for f in bag.import_errors] == ["ferry_definition_errors.py"], shown
