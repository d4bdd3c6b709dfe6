"""transforms: the seat engine, pure electoral arithmetic.

Every member state's law is data (``elections/<id>/countries/<CC>.toml``, typed by :mod:`transforms.rules`);
the methods are small modules named after the rule they implement, found by name through the
whitelist in :mod:`transforms.registry` (never by dynamic import):

* divisor (highest averages) methods: :mod:`transforms.dhondt`, :mod:`transforms.sainte_lague`
  (incl. the modified first divisor), on the exact engine of :mod:`transforms.divisor`;
* quota (largest remainder) methods: :mod:`transforms.largest_remainder` with the quotas of
  :mod:`transforms.quota`, :mod:`transforms.hare_niemeyer`, :mod:`transforms.hagenbach_bischoff`;
* national variants: :mod:`transforms.germany`, :mod:`transforms.greece`, :mod:`transforms.bulgaria`,
  :mod:`transforms.cyprus`, :mod:`transforms.slovakia`, :mod:`transforms.italy`, :mod:`transforms.poland`,
  :mod:`transforms.romania`, :mod:`transforms.netherlands`;
* composition: :mod:`transforms.threshold`, :mod:`transforms.alliance`, :mod:`transforms.constituency`,
  :mod:`transforms.stv` (declared seats), :mod:`transforms.procedure` (threshold -> alliances -> method);
* the law as data: :mod:`transforms.country_file` (a country file as rows), :mod:`transforms.rules`
  (typed rules from those rows or an older rules.csv's), :mod:`transforms.registry` (the whitelist of
  method names);
* plumbing: :mod:`transforms.tie` (ties, lots), :mod:`transforms.exact` (exact numbers and their
  rendering), :mod:`transforms.apportionment` (values passed between stages), :mod:`transforms.errors`;
* the entry points: :func:`transforms.national.allocate_country` and :func:`transforms.eu.aggregate`.
  The command ``enr seats`` (files in, files out) lives outside, in :mod:`enr.seats_command`.

Arithmetic is exact (``int`` and :class:`fractions.Fraction`, never ``float``); an exact tie for the
last seat(s) is returned as a :class:`transforms.tie.Tie` and never broken silently; every allocation
explains itself with a step log of plain JSON-serialisable dicts. Nothing here reads or writes files.

Layer: the bottom one (docs/ARCHITECTURE.md): imports pandas, numpy and the standard library, nothing
of the project (a contract in pyproject.toml; the rules come in as data, never as an import).
"""
