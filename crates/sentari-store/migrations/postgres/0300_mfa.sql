-- TOTP multi-factor authentication (issue 6): the user's encrypted TOTP secret, the secret of an
-- enrollment in progress, the last accepted time step (a code is never accepted twice), and
-- single-use recovery codes stored as hashes.

ALTER TABLE users ADD COLUMN mfa_secret text;          -- AES-256-GCM sealed, "v1:" + base64
ALTER TABLE users ADD COLUMN mfa_pending_secret text;  -- the same, until the first code confirms it
ALTER TABLE users ADD COLUMN mfa_last_step bigint;     -- RFC 6238 counter of the last accepted code

CREATE TABLE mfa_recovery_codes (
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  text        NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, code_hash)
);
