"""The files of a run folder, named once: written by the load test (``loadtest.json``, ``status.json``)
and by the orchestrator (``run.json``, ``idp.json``, ``service.json``), read by the report.
``docs/report.md`` documents their contents. Every writer replaces them atomically
(:mod:`mock_idp.atomic`)."""

LOADTEST = "loadtest.json"  # the master's measurements, rewritten every 2 s while the run goes on
STATUS = "status.json"  # the live progress the runner shows
RUN_META = "run.json"  # how the run was started and how it ended
IDP_CPU = "idp.json"  # the embedded IdP's CPU share over time
SERVICE_CPU = "service.json"  # relying-party mode: the service's CPU share over time
