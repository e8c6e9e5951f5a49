#!/bin/sh
# The write cost of the live-update options of issue 25 (docs/performance.md, "Writes and live
# updates"), measured with pgbench on a scratch database of DATABASE_URL's server (created and
# dropped here): single-row UPDATE ... RETURNING per statement on a 50,000-row copy of task with its
# indexes, (1) without trigger, (2) with a change-log trigger as task_change_log, (3) with a
# pg_notify trigger as the one before it, (4) with the table itself as the log (a stamp column set by
# a trigger, indexed with the owner); then 16 rows per statement without and with the change log.
# 8 clients, 5 s each, the variants interleaved, twice. Run under the shared lock:
#   flock /work/wt/heavy.lock env DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres sh bench/write-options.sh
set -e
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL server (the database in it is not used)}"
PGBENCH=${PGBENCH:-$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)}
PGBENCH=${PGBENCH:-pgbench}
DIR=$(mktemp -d)
DB="taskgraph_write_options_$$"
BASE=$(echo "$DATABASE_URL" | sed 's|/[^/]*$||')
psql -q "$BASE/postgres" -c "create database $DB"
trap 'psql -q "$BASE/postgres" -c "drop database if exists $DB with (force)"; rm -rf "$DIR"' EXIT
psql -q "$BASE/$DB" >/dev/null <<'SQL'
create table base (id bigint primary key, owner_id text not null, title varchar(200) not null, description text, completed boolean not null default false,
  priority smallint not null default 1, due_at timestamptz, created_at timestamptz not null default now(), updated_at timestamptz not null default now(), version integer not null default 1);
create index on base (owner_id, created_at desc, id desc);
create index on base (owner_id, due_at, id);
create index on base (owner_id, priority desc, created_at desc, id desc);
insert into base (id, owner_id, title) select g, 'user-' || (g % 1000), 'Task ' || g from generate_series(1, 50000) g;
create table t_plain (like base including all); insert into t_plain select * from base;
create table t_log (like base including all); insert into t_log select * from base;
create table t_notify (like base including all); insert into t_notify select * from base;
create table t_stamp (like base including all); alter table t_stamp add column changed xid8 not null default pg_current_xact_id(), add column deleted boolean not null default false;
insert into t_stamp select b.*, pg_current_xact_id(), false from base b;
create index on t_stamp (owner_id, changed);
create table change_log ("xid" xid8 not null default pg_current_xact_id(), "id" bigint generated always as identity, owner_id text not null, task_id bigint not null, kind text not null, version integer not null, changed_at timestamptz not null default now(), primary key (owner_id, "xid", "id"));
create index on change_log ("xid", "id");
create function log_change() returns trigger language plpgsql as $$ begin
  insert into change_log (owner_id, task_id, kind, version) values (new.owner_id, new.id, 'UPDATED', new.version); return null; end $$;
create trigger log_change after update on t_log for each row execute function log_change();
create function notify_change() returns trigger language plpgsql as $$ begin
  perform pg_notify('task_events', json_build_object('kind', 'UPDATED', 'taskId', new.id, 'ownerId', new.owner_id)::text); return null; end $$;
create trigger notify_change after update on t_notify for each row execute function notify_change();
create function stamp_change() returns trigger language plpgsql as $$ begin new.changed := pg_current_xact_id(); return new; end $$;
create trigger stamp_change before update on t_stamp for each row execute function stamp_change();
vacuum analyze;
SQL
for t in plain log notify stamp; do
  printf '%s\n' '\set id random(1, 50000)' \
    "update t_$t set completed = not completed, updated_at = now(), version = version + 1 where id = :id and owner_id = 'user-' || (:id % 1000) returning id, owner_id, title, completed, version;" > "$DIR/$t.sql"
done
for t in plain log; do
  printf '%s\n' '\set a random(1, 49000)' \
    "update t_$t t set completed = not t.completed, updated_at = now(), version = t.version + 1 from (select g as id from generate_series(:a, :a + 15) g) b where t.id = b.id and t.owner_id = 'user-' || (b.id % 1000) returning t.id, t.owner_id, t.title, t.completed, t.version;" > "$DIR/${t}16.sql"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in 1 2; do
  for v in plain log notify stamp plain16 log16; do
    tps=$("$PGBENCH" -n -c 8 -j 2 -T 5 -M prepared -f "$DIR/$v.sql" "$BASE/$DB" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "round $round: $v: $tps statements/s"
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
