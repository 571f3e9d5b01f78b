/**
 * The receipt session id's syntax alone, for a caller that checks it before loading the
 * session code (the proxy's command line, before it spawns the upstream). Runtime-neutral.
 * @see docs/session.md
 */

/** A session id: `ses_` and 22 base64url characters (16 random bytes); safe in URIs and file names. */
export const SESSION_ID = /^ses_[A-Za-z0-9_-]{22}$/;
