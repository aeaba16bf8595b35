"""The outlet table: one record per outlet holds everything newsarc knows about it."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from newsarc.sources import OUTLET_TABLE, OUTLETS, outlet, source_of


def test_every_record_is_complete_and_its_patterns_compile() -> None:
    keys = [o.key for o in OUTLET_TABLE]
    assert len(keys) == len(set(keys))
    for record in OUTLET_TABLE:
        assert record.name and record.hosts
        assert source_of(f"https://www.{record.hosts[0]}/a/1.html") == (record.key, record.name)
        for pattern in (record.boilerplate, record.end_marker, record.credit_line):
            if pattern:
                re.compile(pattern)
        if record.zone != "UTC" and not re.fullmatch(r"[+-]\d{2}:\d{2}", record.zone):
            ZoneInfo(record.zone)
    assert tuple((o.key, o.name, o.hosts) for o in OUTLET_TABLE) == OUTLETS


def test_the_rules_that_differ_between_outlets() -> None:
    assert (outlet("rfi").zone, outlet("hkcnews").zone, outlet("nyt").zone) == (
        "Europe/Paris", "Asia/Hong_Kong", "+08:00")
    assert [o.key for o in OUTLET_TABLE if o.archive_time_in_zone] == ["hkcnews"]
    assert [o.key for o in OUTLET_TABLE if o.image_titles_are_captions] == ["rti", "rfa"]
    assert [o.key for o in OUTLET_TABLE if o.end_marker] == ["cdt", "hkcnews"]
    assert [o.key for o in OUTLET_TABLE if o.credit_line] == ["rfa"]
    unknown = outlet("example.org")
    assert (unknown.key, unknown.zone, unknown.boilerplate, unknown.hosts) == ("example.org", "UTC", "", ())
