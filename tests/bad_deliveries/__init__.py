"""Test support for the delivery intake: GnuPG keys, a store fixture over SQLite and PostgreSQL,
an intake environment, and the corpus of bad deliveries (:mod:`bad_deliveries.corpus`)."""
