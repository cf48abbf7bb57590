"""Clauses written for these tests (in our own words, one per construct); no real policy text."""

def atoms_of(d):
    return [a.atom for a in d.atoms]


def has_atom(d, **kv):
    return any(all(a.get(k) == v for k, v in kv.items()) for a in atoms_of(d))
