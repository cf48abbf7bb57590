"""Policy text → draft conditions (政策拆解): rules and dictionaries, every atom traced to its span.

>>> from quanhuiqi.drafting import draft_policy
>>> d = draft_policy("申报单位注册地在济南市，上年度营业收入不低于2000万元。")
>>> d.policy["status"]
'draft'
"""

from quanhuiqi.drafting.draft import Draft, DraftAtom, PolicyRule, Todo, draft_policy, dump_policy_yaml
from quanhuiqi.drafting.files import DraftRun, FileResult, draft_files
from quanhuiqi.drafting.normalize import decode_clause_bytes, normalize_clause, read_clause_file
from quanhuiqi.drafting.review import render_review_html

__all__ = [
    "Draft",
    "DraftAtom",
    "DraftRun",
    "FileResult",
    "PolicyRule",
    "Todo",
    "decode_clause_bytes",
    "draft_files",
    "draft_policy",
    "dump_policy_yaml",
    "normalize_clause",
    "read_clause_file",
    "render_review_html",
]
