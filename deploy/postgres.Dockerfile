# PostgreSQL 15 (Debian's package) on the same base as the application image, for the Docker
# stack's run, event-log and schedule storage. No registry image needed: the package comes from
# the Debian mirror the base's apt points at.
#   docker build --network host -f deploy/postgres.Dockerfile --build-arg BASE_IMAGE=... deploy
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY compose/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
USER postgres
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
