"""Great Expectations suites of the delivery intake (``suites/*.json``) and their runner.

Import :func:`expectations.runner.validate_delivery`; Great Expectations itself is imported only
when a validation runs.
"""
