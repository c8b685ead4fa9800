#!/usr/bin/env bash
# Start the services the PostgreSQL and Redis tests use, on 127.0.0.1 only: Debian's
# PostgreSQL cluster (a role and database "assay", password "assay") and a redis-server
# without persistence. Idempotent: does nothing for a service that already answers.
# The tests find them through ASSAY_TEST_POSTGRES_URL and ASSAY_TEST_REDIS_URL (defaults:
# the URLs printed at the end).
set -euo pipefail

PG_PORT="${ASSAY_PG_PORT:-5432}"
REDIS_PORT="${ASSAY_REDIS_PORT:-6379}"

if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
    version="$(ls /usr/lib/postgresql | sort -n | tail -1)"
    if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$version main$"; then
        pg_createcluster "$version" main -p "$PG_PORT" >/dev/null
    fi
    pg_ctlcluster "$version" main start
    for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.2; done
fi
# The role may create databases: the tests copy a migrated template once per test.
su postgres -c "psql -q -p $PG_PORT -tAc \"SELECT 1 FROM pg_roles WHERE rolname='assay'\"" | grep -q 1 \
    || su postgres -c "psql -q -p $PG_PORT -c \"CREATE ROLE assay LOGIN CREATEDB PASSWORD 'assay'\""
su postgres -c "psql -q -p $PG_PORT -tAc \"SELECT 1 FROM pg_database WHERE datname='assay'\"" | grep -q 1 \
    || su postgres -c "createdb -p $PG_PORT -O assay assay"

if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --daemonize yes --logfile /tmp/assay-redis.log
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
echo "postgresql://assay:assay@127.0.0.1:$PG_PORT/assay"
echo "redis://127.0.0.1:$REDIS_PORT/0"
