# triage-loop image: one image, three roles (the Procfile's), chosen by the command:
#   docker run IMAGE db upgrade   # release: migrations
#   docker run IMAGE serve        # web (the default)
#   docker run IMAGE worker       # worker; its health check is `triage worker --check`
# PYTHON_IMAGE may name any Debian-based image with python3 and its venv module.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/triage
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY classifier ./classifier
COPY storage ./storage
COPY jobs ./jobs
RUN /opt/triage/bin/pip install .

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --create-home --uid 10001 --home-dir /home/triage triage
COPY --from=build /opt/triage /opt/triage
ENV PATH=/opt/triage/bin:$PATH PYTHONUNBUFFERED=1 PORT=3000
WORKDIR /home/triage
USER triage
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
ENTRYPOINT ["triage"]
CMD ["serve"]
