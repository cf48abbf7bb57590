"""Category → department: the versioned map (``data/department_map.yaml``), per district where it differs.

The map is data, not a model: who handles a class of appeal is decided by the city, and a model that
learned it from past dispatches would copy past mistakes.  The model predicts the category; the map
names the department (a district's own department where the map lists one for that district).
Categories the map lacks may take the department past dispatches most often recorded for them
(:meth:`DepartmentMap.with_learned`), which the map's version then says.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from quanhuiqi.tables.io import InputError


@dataclass
class DepartmentMap:
    """``city``: category → department; ``districts``: district code → {category → department}."""

    version: str
    city: dict[str, str]
    districts: dict[str, dict[str, str]] = field(default_factory=dict)
    learned: dict[str, str] = field(default_factory=dict)  # from training labels, for categories the map lacks

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> DepartmentMap:
        """The shipped map, or a YAML file of the same shape (``version``, ``city``, ``districts``)."""
        if path is None:
            text = _shipped_text()
            source = "department_map.yaml (shipped)"
        else:
            p = Path(path)
            if not p.exists():
                raise InputError(f"{p}: department map not found")
            text, source = p.read_text(encoding="utf-8"), str(p)
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"{source}: not valid YAML ({str(exc)[:200]})") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("city"), dict):
            raise InputError(f"{source}: expected a mapping with version, city (category → department) and districts")
        districts = doc.get("districts") or {}
        if not isinstance(districts, dict) or not all(isinstance(v, dict) for v in districts.values()):
            raise InputError(f"{source}: districts must map a district code to {{category: department}}")
        from quanhuiqi.reference.districts import is_district_code

        bad = [str(d) for d in districts if not is_district_code(str(d))]
        if bad:
            raise InputError(f"{source}: district code(s) {bad} do not exist in GB/T 2260")
        city = {str(k): str(v) for k, v in doc["city"].items()}
        unknown = sorted({c for m in districts.values() for c in m} - set(city))
        if unknown:
            raise InputError(f"{source}: district entries for categories the city map lacks: {unknown}")
        version = str(doc.get("version") or hashlib.sha256(text.encode()).hexdigest()[:12])
        return cls(version, city, {str(d): {str(k): str(v) for k, v in m.items()} for d, m in districts.items()})

    def with_learned(self, categories: pd.Series, departments: pd.Series) -> DepartmentMap:
        """A copy that also maps categories missing from the map to their most recorded department."""
        known = pd.DataFrame({"c": categories.astype("string"), "d": departments.astype("string")}).dropna()
        known = known[~known["c"].isin(set(self.city))]
        if known.empty:
            return self
        top = known.groupby(["c", "d"]).size().reset_index(name="n").sort_values(["c", "n", "d"], ascending=[True, False, True])
        learned = dict(zip(top.drop_duplicates("c")["c"], top.drop_duplicates("c")["d"]))
        return DepartmentMap(self.version + "+learned", self.city, self.districts, {**self.learned, **learned})

    def departments(self, categories: pd.Series | np.ndarray, districts: pd.Series | np.ndarray | None = None) -> np.ndarray:
        """The department of each (category, district); NA-like None where the map has none."""
        city = {**self.learned, **self.city}
        cats = np.asarray(categories, dtype=object).tolist()
        if districts is None or not self.districts:
            return np.array([city.get(c) for c in cats], dtype=object)
        local = self.districts
        dist = np.asarray(districts, dtype=object).tolist()
        return np.array([(local[d].get(c) if isinstance(d, str) and d in local else None) or city.get(c)
                         for c, d in zip(cats, dist)], dtype=object)

    def to_json(self) -> str:
        return json.dumps({"version": self.version, "city": self.city, "districts": self.districts,
                           "learned": self.learned}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DepartmentMap:
        d = json.loads(text)
        return cls(d["version"], d["city"], d.get("districts", {}), d.get("learned", {}))

    def table(self) -> pd.DataFrame:
        """The map as rows: category, district_code (NA = city-wide), department, source."""
        rows = [(c, pd.NA, d, "map") for c, d in self.city.items()]
        rows += [(c, code, d, "map") for code, m in self.districts.items() for c, d in m.items()]
        rows += [(c, pd.NA, d, "learned") for c, d in self.learned.items()]
        return pd.DataFrame(rows, columns=["category", "district_code", "department", "source"])


@cache
def _shipped_text() -> str:
    return resources.files("quanhuiqi.appeals").joinpath("data").joinpath("department_map.yaml").read_text(encoding="utf-8")


def department_map(path: str | os.PathLike | None = None) -> DepartmentMap:
    """The shipped category → department map (or the one in ``path``)."""
    return DepartmentMap.load(path)
