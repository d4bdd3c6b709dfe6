"""Assets shared by the election-night DAGs."""
from airflow.sdk import Asset

#: A new version of the site was staged and waits for approval.
STAGED_RESULTS = Asset(name="staged_results", uri="enr://staging")
#: A version reached the public area.
PUBLISHED_RESULTS = Asset(name="published_results", uri="enr://public")
