-- Schema 6: whether an API key an operator made for someone waits for that
-- person to allow it (a pending key acts as nobody). Every existing key was
-- made before operators could make keys for others, so it stays allowed.

ALTER TABLE api_keys ADD COLUMN pending boolean NOT NULL DEFAULT false;
