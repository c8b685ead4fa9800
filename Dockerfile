# Assay container images.
#
# Targets:
#   grader  the sandbox image candidates' code runs in (no network at run time, non-root).
#   server  (to be appended below by the web issue; start it FROM ${BASE_IMAGE} as well).
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
