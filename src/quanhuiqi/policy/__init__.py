"""The policy language: model, loading and checking, the book.

Policies are YAML data (``yaml.safe_load`` only); a book is checked completely before any
enterprise is scored, and its content hash is its version.
"""

from quanhuiqi.policy.book import PolicyBook, load_book
from quanhuiqi.policy.check import CheckReport, check_book, run_policy_tests
from quanhuiqi.policy.load import PolicyError
from quanhuiqi.policy.model import OPERATORS, Atom, Combo, Policy, PolicyTest

__all__ = [
    "OPERATORS",
    "Atom",
    "CheckReport",
    "Combo",
    "Policy",
    "PolicyBook",
    "PolicyError",
    "PolicyTest",
    "check_book",
    "load_book",
    "run_policy_tests",
]
