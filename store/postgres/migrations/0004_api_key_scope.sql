-- Schema 4: what an API key may do. A key made before scopes existed could
-- run changes, so existing rows get 'write'; Tandem passes the scope of
-- every new key explicitly (read unless its creator asks for write).

ALTER TABLE api_keys
	ADD COLUMN scope text NOT NULL DEFAULT 'write',
	ADD CONSTRAINT api_keys_scope_check CHECK (scope IN ('read', 'write'));
