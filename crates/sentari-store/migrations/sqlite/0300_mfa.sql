-- TOTP multi-factor authentication (issue 6): the user's encrypted TOTP secret, the secret of an
-- enrollment in progress, the last accepted time step (a code is never accepted twice), and
-- single-use recovery codes stored as hashes.

ALTER TABLE users ADD COLUMN mfa_secret TEXT;          -- AES-256-GCM sealed, "v1:" + base64
ALTER TABLE users ADD COLUMN mfa_pending_secret TEXT;  -- the same, until the first code confirms it
ALTER TABLE users ADD COLUMN mfa_last_step INTEGER;    -- RFC 6238 counter of the last accepted code

CREATE TABLE mfa_recovery_codes (
    user_id    BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, code_hash)
);
