-- PostgreSQL's own cost of writing the ledger's events rows, without
-- Rebound: 300,000 generated rows into a copy of the events table, first
-- with no index but its key, then with each index alone, then with all
-- three and the ledger's ON CONFLICT ... RETURNING. Run against a scratch
-- database (it creates and drops the schema `insert_floor`):
--
--   psql -h HOST -p PORT -U USER -d DB -f scripts/pg-insert-floor.sql
--
-- The printed times are the floor the ledger's ingest on that server
-- cannot go below (see README, "Performance").
\timing on
\set rows 300000

DROP SCHEMA IF EXISTS insert_floor CASCADE;
CREATE SCHEMA insert_floor;
SET search_path = insert_floor;

-- Column for column the ledger's events table (rebound-ledger's schema.rs).
CREATE TABLE shape (id BIGSERIAL PRIMARY KEY, dedupe_key BYTEA NOT NULL, time_ms BIGINT NOT NULL,
  recipient TEXT NOT NULL, recipient_domain TEXT NOT NULL, sender TEXT, sending_ip TEXT,
  campaign TEXT, message_id TEXT, outcome TEXT NOT NULL, replycode INTEGER, status TEXT,
  text TEXT NOT NULL, format TEXT NOT NULL, source TEXT NOT NULL, reason TEXT NOT NULL,
  hardbounce BOOLEAN NOT NULL, permanent BOOLEAN, owner TEXT NOT NULL, remedy TEXT NOT NULL,
  provider TEXT, detail_key BIGINT NOT NULL, rhost TEXT NOT NULL, smtpcommand TEXT NOT NULL,
  policy_class TEXT NOT NULL, ingested_ms BIGINT NOT NULL, evidence TEXT, rules_id TEXT);

-- The rows, generated once so that each timed insert only copies them.
CREATE TABLE source AS
SELECT decode(md5(i::text), 'hex') AS dedupe_key, 1796119200000 + i * 10 AS time_ms,
  'user' || (i % 100000) || '@example' || (i % 50) || '.com' AS recipient,
  'example' || (i % 50) || '.com' AS recipient_domain, '<' || i || '@ours.example>' AS message_id,
  '203.0.113.' || (i % 8) AS sending_ip, 'c' || (i % 10) AS campaign, 'bench.log:' || i AS source
FROM generate_series(1, :rows) AS i;

\echo 'no index but the key'
CREATE TABLE events (LIKE shape INCLUDING ALL);
\set insert 'INSERT INTO events (dedupe_key, time_ms, recipient, recipient_domain, sender, sending_ip, campaign, message_id, outcome, replycode, status, text, format, source, reason, hardbounce, permanent, owner, remedy, provider, detail_key, rhost, smtpcommand, policy_class, ingested_ms, evidence, rules_id) SELECT dedupe_key, time_ms, recipient, recipient_domain, \'news@ours.example\', sending_ip, campaign, message_id, \'delivered\', 250, \'2.0.0\', \'250 2.0.0 Ok: queued as 4AbCdE\', \'postfix\', source, \'delivered\', false, false, \'none\', \'none\', \'gmail\', 12345, \'mx.example.com\', \'DATA\', \'delivered\', 1796119200000, \'{"action":"delivered"}\', \'abcd\' FROM source'
:insert;

\echo 'the dedupe index alone'
DROP TABLE events; CREATE TABLE events (LIKE shape INCLUDING ALL);
CREATE UNIQUE INDEX ON events (dedupe_key);
:insert;

\echo 'events_recipient_time alone'
DROP TABLE events; CREATE TABLE events (LIKE shape INCLUDING ALL);
CREATE INDEX ON events (recipient, time_ms);
:insert;

\echo 'events_report alone'
DROP TABLE events; CREATE TABLE events (LIKE shape INCLUDING ALL);
CREATE INDEX ON events (time_ms, outcome, provider, recipient_domain, sending_ip, campaign);
:insert;

\echo 'all three, ON CONFLICT DO NOTHING RETURNING, as the ledger writes'
DROP TABLE events; CREATE TABLE events (LIKE shape INCLUDING ALL);
CREATE UNIQUE INDEX ON events (dedupe_key);
CREATE INDEX ON events (recipient, time_ms);
CREATE INDEX ON events (time_ms, outcome, provider, recipient_domain, sending_ip, campaign);
:insert ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key \g /dev/null

\echo 'all three, plain INSERT'
DROP TABLE events; CREATE TABLE events (LIKE shape INCLUDING ALL);
CREATE UNIQUE INDEX ON events (dedupe_key);
CREATE INDEX ON events (recipient, time_ms);
CREATE INDEX ON events (time_ms, outcome, provider, recipient_domain, sending_ip, campaign);
:insert;

\echo 'all three, ON CONFLICT DO NOTHING without RETURNING'
DROP TABLE events; CREATE TABLE events (LIKE shape INCLUDING ALL);
CREATE UNIQUE INDEX ON events (dedupe_key);
CREATE INDEX ON events (recipient, time_ms);
CREATE INDEX ON events (time_ms, outcome, provider, recipient_domain, sending_ip, campaign);
:insert ON CONFLICT (dedupe_key) DO NOTHING;

\echo 'a 4-column table with a bigserial key, for scale'
CREATE TABLE slim (id BIGSERIAL PRIMARY KEY, time_ms BIGINT NOT NULL, a INT, b INT);
INSERT INTO slim (time_ms, a, b) SELECT time_ms, 1, 2 FROM source;

DROP SCHEMA insert_floor CASCADE;
