-- Schema 3, as in the bbolt store: the index of each session's unfinished
-- turns, so the bot picks a session's next turn with one index read instead
-- of reading every unfinished turn.
--
-- sent_at is tandem.Turn.SentAt, written by the application: a message's
-- Slack ts in seconds, or received_at for a turn without one (API calls,
-- re-runs). A session's turns run in (sent_at, seq) order.

ALTER TABLE turns ADD COLUMN sent_at double precision;
-- Rows recorded before this version: the same rule in SQL, for every ts
-- Slack sends (digits, a point, digits); any other ts orders by received_at.
UPDATE turns SET sent_at = CASE
	WHEN NOT rerun AND api_key = '' AND ts ~ '^[0-9]{1,15}(\.[0-9]{1,9})?$' THEN ts::double precision
	ELSE extract(epoch FROM received_at)::double precision
END;
-- A row inserted without it (by hand, or by an older binary during an
-- upgrade) orders as if its message was sent when the row was inserted.
ALTER TABLE turns
	ALTER COLUMN sent_at SET NOT NULL,
	ALTER COLUMN sent_at SET DEFAULT extract(epoch FROM now());
CREATE INDEX turns_open_by_session ON turns (team, channel, thread_ts, sent_at, seq) WHERE state <> 'done';
