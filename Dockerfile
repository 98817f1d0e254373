# One image for every part of a loginload deployment, on the official Locust image: its `locust`
# entrypoint, its non-root `locust` user, its /opt/venv. The build steps are scripts/image-install.sh,
# which the test suite also runs in a clean virtual environment (tests/deploy/test_image.py).
#
#   docker build -t loginload:0.1.0 .
#   docker run loginload:0.1.0 --master --headless ...           Locust master (LOCUST_LOCUSTFILE below)
#   docker run loginload:0.1.0 --worker --master-host MASTER      a Locust worker
#   docker run loginload:0.1.0 -f - --worker --master-host MASTER a worker taking the master's locustfile
#   docker run --entrypoint loginload loginload:0.1.0 idp --host 0.0.0.0 --store redis://REDIS:6379/0
#
# Options: Locust's and loginload's Locust options as flags or LOCUST_* environment variables, the
# mock IdP's as `loginload idp` flags (README, "Scaling out" and "Settings").
ARG LOCUST_VERSION=2.47.0
FROM locustio/locust:${LOCUST_VERSION}

COPY --chown=locust . /tmp/loginload-src
RUN PIP_NO_CACHE_DIR=1 sh /tmp/loginload-src/scripts/image-install.sh /tmp/loginload-src \
    && rm -rf /tmp/loginload-src

# `locust` with no -f runs loginload's scenario; `-f` or LOCUST_LOCUSTFILE still choose another.
ENV LOCUST_LOCUSTFILE=/opt/venv/share/loginload/locustfile.py
# 8765: the mock IdP (`loginload idp --port`), 8089: Locust's web UI, 5557: Locust's master
EXPOSE 8765 8089 5557
