-- 0007: the console's sign-in (a backend-for-frontend). The browser holds only a random session
-- id; this table holds its SHA-256 (never the id), who signed in, the CSRF token of the session
-- and its timeouts. Pending sign-ins (the PKCE verifier, state and nonce between /auth/login and
-- /auth/callback) live in login_requests, one use each.

CREATE TABLE sessions (
  -- SHA-256 of the session id (hex): a read of this table gives no usable cookie.
  id_hash       text        PRIMARY KEY,
  subject       text        NOT NULL,
  team          text        NOT NULL,
  roles         text[]      NOT NULL,
  csrf_token    text        NOT NULL,
  created_at    timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  -- Refused when unused for this long (SESSION_IDLE_SECONDS when it was created).
  idle_seconds  integer     NOT NULL CHECK (idle_seconds > 0),
  -- Refused from then on, however active (created + SESSION_ABSOLUTE_SECONDS).
  expires_at    timestamptz NOT NULL
);

CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);

CREATE TABLE login_requests (
  -- SHA-256 of the login cookie's random value (hex).
  id_hash       text        PRIMARY KEY,
  state         text        NOT NULL,
  nonce         text        NOT NULL,
  code_verifier text        NOT NULL,
  redirect_uri  text        NOT NULL,
  return_to     text        NOT NULL,
  created_at    timestamptz NOT NULL
);

CREATE INDEX login_requests_created_at ON login_requests (created_at);
