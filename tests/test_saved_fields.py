"""``reports.saved_fields.check_fields`` names the field that is wrong: a parent that is not an object is named
itself, not reported as its child "missing"."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.saved_fields import check_fields, metric_fields


def test_a_parent_that_is_not_an_object_is_named() -> None:
    meta = {"summary": {"strategy": "oops"}}
    with pytest.raises(ValueError, match=r'field summary.strategy must be a JSON object, but it is "oops"'):
        check_fields(Path("run.json"), meta, metric_fields(("strategy",)), error=ValueError, hint="rerun")


def test_a_null_optional_parent_is_still_allowed() -> None:
    meta = {"universe": None}
    check_fields(Path("run.json"), meta, [("universe", "table?"), ("universe.name", "text?")],
                 error=ValueError, hint="rerun")  # fmt: skip
