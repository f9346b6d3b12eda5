-- Schema 6: whether an API key an operator made for someone waits for that
-- person to allow it (a pending key acts as nobody).
--
-- tandem apikey create --user has made keys for others since keys existed,
-- without asking them, and the key does not say who made it. An existing
-- key therefore waits for its person's Allow too, unless the audit shows
-- that person made it themselves (an apikey_create record whose actor is
-- the key's creator; its detail starts with the key's prefix). A key whose
-- record was pruned waits as well: nobody acts as a person on a guess that
-- they agreed. A revoked key acts as nobody anyway and stays as it is.

ALTER TABLE api_keys ADD COLUMN pending boolean NOT NULL DEFAULT false;

UPDATE api_keys k SET pending = true
WHERE k.revoked IS NULL AND NOT EXISTS (
	SELECT 1 FROM audit a
	WHERE a.action = 'apikey_create' AND a.actor = k.creator AND a.effective = k.creator
		AND split_part(a.detail, ' ', 1) = k.prefix
);
