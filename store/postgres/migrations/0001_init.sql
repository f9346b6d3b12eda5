-- Schema 1, the first release: the inbox of turns, sessions, linked
-- accounts (tokens sealed), OAuth flows in progress (PKCE verifiers sealed)
-- and the audit trail, as in the bbolt store's schema 1.
--
-- Key columns use the "C" collation, so rows sort by bytes, as the bbolt
-- store's keys do. Secrets are bytea values sealed by the application
-- (secrets.Keyring); no secret is ever written in clear.

-- meta holds the key check: a constant sealed under the current key, so
-- Open finds a wrong key at once.
CREATE TABLE meta (
	name  text COLLATE "C" PRIMARY KEY,
	value bytea NOT NULL
);

CREATE TABLE turns (
	id          text COLLATE "C" PRIMARY KEY,
	-- seq is the recording order, which UnfinishedTurns follows.
	seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	team        text NOT NULL,
	channel     text COLLATE "C" NOT NULL,
	thread_ts   text NOT NULL,
	user_id     text NOT NULL,
	text        text NOT NULL,
	ts          text COLLATE "C" NOT NULL,
	received_at timestamptz NOT NULL,
	rerun       boolean NOT NULL,
	state       text NOT NULL CHECK (state IN ('pending', 'running', 'done')),
	attempts    integer NOT NULL,
	-- recorded_at is the store's clock when the turn was recorded; pruning
	-- goes by it.
	recorded_at timestamptz NOT NULL
);
-- One message (channel and ts) is recorded once, whatever its event id; a
-- rerun, and a turn without a ts, are deduplicated by id only.
CREATE UNIQUE INDEX turns_dedupe ON turns (channel, ts) WHERE ts <> '' AND NOT rerun;
CREATE INDEX turns_open ON turns (seq) WHERE state <> 'done';
CREATE INDEX turns_done_by_time ON turns (recorded_at) WHERE state = 'done';

CREATE TABLE sessions (
	-- key is team/channel/thread_ts, the bbolt store's key, so sessions
	-- list in the same order.
	key        text COLLATE "C" PRIMARY KEY,
	team       text NOT NULL,
	channel    text NOT NULL,
	thread_ts  text NOT NULL,
	owner      text NOT NULL,
	created_at timestamptz NOT NULL,
	editors    text[] NOT NULL,
	env        jsonb,
	pending    jsonb
);

CREATE TABLE links (
	team            text COLLATE "C" NOT NULL,
	user_id         text COLLATE "C" NOT NULL,
	provider        text COLLATE "C" NOT NULL,
	account_id      text NOT NULL,
	login           text NOT NULL,
	linked_at       timestamptz NOT NULL,
	site            text NOT NULL,
	site_name       text NOT NULL,
	sites           jsonb,
	needs_reconnect boolean NOT NULL,
	-- The token, sealed with associated data "team|user|provider", so a
	-- value moved to another row does not open.
	sealed_token    bytea NOT NULL,
	PRIMARY KEY (team, user_id, provider)
);

CREATE TABLE oauth_states (
	-- The state id is a secret: rows are keyed by its hex SHA-256 and the
	-- id itself is not kept.
	id_hash         text COLLATE "C" PRIMARY KEY,
	provider        text NOT NULL,
	team            text NOT NULL,
	user_id         text NOT NULL,
	nonce_hash      text NOT NULL,
	expires         timestamptz NOT NULL,
	rerun_turn      text NOT NULL,
	-- The PKCE verifier, sealed with associated data "oauth_state|<id_hash>".
	sealed_verifier bytea NOT NULL
);
CREATE INDEX oauth_states_expires ON oauth_states (expires);

CREATE TABLE audit (
	-- seq is the append order, which Audit and PruneAudit follow.
	seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at        timestamptz NOT NULL,
	team      text NOT NULL,
	channel   text NOT NULL,
	thread_ts text NOT NULL,
	turn_id   text NOT NULL,
	actor     text NOT NULL,
	effective text NOT NULL,
	provider  text NOT NULL,
	action    text NOT NULL,
	reason    text NOT NULL,
	outcome   text NOT NULL,
	detail    text NOT NULL
);
CREATE INDEX audit_session ON audit (team, channel, thread_ts, seq);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_effective ON audit (effective, seq);
