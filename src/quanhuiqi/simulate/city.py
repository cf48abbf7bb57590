"""The city a simulation runs over: the profile of every enterprise the data holds, the grants and the push
history (how past pairs turned out), and the book of policies already in force.

``read_city(DIR, as_of)`` reads the daily job's data folder (``DATA_FILES``) with the same validation as the job:
rows in = rows out + rows rejected, and the rejects are kept with the city.  A table the folder lacks is
simply absent (no history: the central estimate then rests on the data alone, and says so).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from quanhuiqi.tables.columns import DATA_FILES
from quanhuiqi.tables.io import InputError, read_table


@dataclass
class CityData:
    """What ``simulate`` reads besides the book.  ``profile`` has one row per clean enterprise (index 0..n-1).

    ``grants`` and ``push_history`` are the validated history tables (or None); ``in_force`` the book of the
    data folder (``policies/``), the policies a draft is compared with for overlap; ``facts`` the dated
    record and yearly tables when the policy language reads them (passed to the engine as they are).
    """

    as_of: dt.date
    profile: pd.DataFrame
    grants: pd.DataFrame | None = None
    push_history: pd.DataFrame | None = None
    in_force: Any = None
    rejects: pd.DataFrame | None = None
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    facts: Any = None
    source: str = ""
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.profile)

    def cached(self, key, make):
        """What depends on the city alone (and the key) is computed once: breakdown codes, the decided
        applications, the history's calibration against a book.  The city is not to be changed afterwards."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def read_city(data_dir: str | os.PathLike, as_of: str | dt.date, *, in_force: bool = True,
              encoding: str | None = None) -> CityData:
    """Read, validate and profile a data folder at ``as_of`` (``enterprises.csv`` required; ``grants.csv``,
    ``push_history.parquet`` and ``policies/`` when present).  ``encoding``: the CSV tables' (default: UTF-8
    or GB18030/GBK detected per file), recorded per input."""
    from quanhuiqi.eligibility.batch import as_date
    from quanhuiqi.profile import profile
    from quanhuiqi.tables import read_enterprises, validate_enterprises, validate_history
    from quanhuiqi.tables.rejects import concat_rejects

    day = as_date(as_of)
    d = Path(data_dir)
    if not d.is_dir():
        raise InputError(f"{d}: data directory not found")
    ent_path = d / DATA_FILES["enterprises"]
    if not ent_path.exists():
        raise InputError(f"{ent_path}: input table 'enterprises' not found")
    inputs: dict[str, dict[str, Any]] = {}
    read_as: dict[str, dict] = {"enterprises": {}}
    raw = read_enterprises(ent_path, encoding, read_as["enterprises"])
    v = validate_enterprises(raw, day, "enterprises")
    inputs["enterprises"] = {"path": DATA_FILES["enterprises"], "rows": len(raw), "clean": len(v.clean),
                             "rows_rejected": v.rows_rejected, **read_as["enterprises"]}
    parts = [v.rejects]
    prof = profile(v.clean, day).reset_index(drop=True)
    state: dict[str, pd.DataFrame | None] = {}
    for name in ("grants", "push_history"):
        p = d / DATA_FILES[name]
        if not p.exists():
            state[name] = None
            inputs[name] = {"path": DATA_FILES[name], "absent": True}
            continue
        rep: dict = {}
        t = read_table(p, encoding=encoding, report=rep)
        sv = validate_history(name, t, day, name)
        state[name] = sv.clean
        parts.append(sv.rejects)
        inputs[name] = {"path": DATA_FILES[name], "rows": len(t), "clean": len(sv.clean),
                        "rows_rejected": sv.rows_rejected, **rep}
    book = None
    pol = d / DATA_FILES["policies"]
    if in_force and pol.is_dir():
        from quanhuiqi.policy import load_book

        book = load_book(pol)
        inputs["policies"] = {"path": DATA_FILES["policies"], "policies": len(book), "version": book.version}
    from quanhuiqi.simulate.language import load_facts

    fact_as: dict[str, dict] = {}
    facts, fact_rejects = load_facts(d, day, prof["uscc"], book, encoding, fact_as)
    if fact_rejects is not None:
        parts.append(fact_rejects)
        for name in facts.supplied():
            inputs[name] = {"clean": len(getattr(facts, name)), **fact_as.get(name, {})}
    city = CityData(day, prof, state["grants"], state["push_history"], book, concat_rejects(parts), inputs,
                    source=str(d))
    city.facts = facts
    return city
