-- Schema 5: schedules, and the schedule whose run a turn is.
--
-- The document (doc) is the schedule as the bbolt store keeps it, and what
-- Tandem reads back; the columns beside it are copies of its fields that
-- queries select and sort by, written with it in the same statement.

ALTER TABLE turns ADD COLUMN schedule text NOT NULL DEFAULT '';

CREATE TABLE schedules (
	id         text COLLATE "C" PRIMARY KEY,
	team       text NOT NULL,
	channel    text NOT NULL,
	thread_ts  text NOT NULL,
	creator    text NOT NULL,
	created_at timestamptz NOT NULL,
	-- next is NULL when there is no next run (a one-off that ran).
	next       timestamptz,
	paused     boolean NOT NULL,
	doc        jsonb NOT NULL
);
-- The scheduler's question, "what is due by now?", reads only unpaused
-- schedules that have a next run.
CREATE INDEX schedules_due ON schedules (next) WHERE NOT paused AND next IS NOT NULL;
-- A person's schedules in a workspace: listing them, and counting them
-- against the limit.
CREATE INDEX schedules_team_creator ON schedules (team, creator);
