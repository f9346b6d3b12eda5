-- Schema 2, as in the bbolt store: API keys, settings and leases, and the
-- API key a turn from the HTTP API came with.

ALTER TABLE turns
	ADD COLUMN api_key      text NOT NULL DEFAULT '',
	ADD COLUMN api_key_name text NOT NULL DEFAULT '';

-- Only the hash of a key's secret is stored; the prefix names the key.
CREATE TABLE api_keys (
	hash       text COLLATE "C" NOT NULL,
	prefix     text COLLATE "C" NOT NULL,
	name       text NOT NULL,
	team       text NOT NULL,
	creator    text NOT NULL,
	created_at timestamptz NOT NULL,
	expires    timestamptz,
	last_used  timestamptz,
	revoked    timestamptz,
	CONSTRAINT api_keys_hash_key PRIMARY KEY (hash),
	CONSTRAINT api_keys_prefix_key UNIQUE (prefix)
);
CREATE INDEX api_keys_team_creator ON api_keys (team, creator);

CREATE TABLE settings (
	name  text COLLATE "C" PRIMARY KEY,
	value text NOT NULL
);

-- Leases coordinate replicas: "session/<key>" orders a session's turns,
-- "refresh/<team>/<user>/<provider>" serialises a token refresh.
CREATE TABLE leases (
	name    text COLLATE "C" PRIMARY KEY,
	owner   text NOT NULL,
	expires timestamptz NOT NULL
);
