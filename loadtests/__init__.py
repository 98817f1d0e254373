"""What runs inside Locust: the citizen's journeys, the workload model, shapes, open-model arrivals.

Imports only :mod:`mock_idp` below it (for the population rule), never the reports or the
orchestrator above it.
"""

from pathlib import Path

LOCUSTFILE = str(Path(__file__).with_name("locustfile.py"))  # for `locust -f` (runner, tests, benchmarks)
