"""The synthetic city: enterprises, policies, postings and a history drawn from a latent model.

``generate_city(out_dir, n_enterprises, seed, as_of, history_days)`` writes the daily job's data
directory plus ``truth/``; the latent-preference model and its oracle functions
(``policy_utility``, ``posting_utility``) are documented in ``synth/README.md``.
"""

from quanhuiqi.synth.appeals import generate_appeals, write_appeals
from quanhuiqi.synth.city import generate_city
from quanhuiqi.synth.enterprises import generate_enterprises, simulate_enterprises
from quanhuiqi.synth.policies import generate_policies, policy_dir, template_policies, write_policies
from quanhuiqi.synth.postings import generate_posting_interactions, generate_postings
from quanhuiqi.synth.preference import load_truth, policy_utility, posting_utility

__all__ = [
    "generate_appeals",
    "generate_city",
    "generate_enterprises",
    "generate_policies",
    "generate_posting_interactions",
    "generate_postings",
    "load_truth",
    "policy_dir",
    "policy_utility",
    "posting_utility",
    "simulate_enterprises",
    "template_policies",
    "write_appeals",
    "write_policies",
]
