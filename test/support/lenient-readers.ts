/**
 * Models of how the official Python and Go MCP SDKs read MCP stdio, for tests that show
 * whatever our proxies forward is read the same way by them. One implementation,
 * test/e2e/fixtures/lenient-json.mjs (plain ESM, also run by the stand-in upstreams
 * python-like-upstream.mjs and go-like-upstream.mjs); its header cites the SDK sources.
 *
 * Values: Python ints past 2^53 are BigInt (exact, as Python keeps them); Go numbers are JS
 * numbers (float64). A message an SDK cannot read is `{ unreadable: true, reason }`; the Go
 * marker also has `fatal: true` because the Go SDK closes the session there and reads
 * nothing after it.
 */
import {
  goSdkRead as goRead,
  pythonSdkRead as pythonRead,
  type GoReadOptions,
  type PythonReadOptions,
} from '../e2e/fixtures/lenient-json.mjs';

export {
  GoStdinReader,
  PythonStdinReader,
  goDecodeMessage,
  goFold,
  stringifyJson,
  type GoReadOptions,
  type PythonReadOptions,
  type ReadItem,
} from '../e2e/fixtures/lenient-json.mjs';

/**
 * The messages the Python SDK's stdio server reads from this byte stream
 * (python-sdk src/mcp/server/stdio.py `stdio_server`):
 *  - bytes decoded as `TextIOWrapper(encoding="utf-8", errors="replace")` would: invalid
 *    sequences become U+FFFD (maximal-subpart rule, one per broken sequence); a BOM stays
 *    U+FEFF (and so the line is unreadable). `{ invalidUtf8: 'strict' }` models versions
 *    before python-sdk PR #2302: the first invalid byte ends the server (a `fatal` marker).
 *  - split as universal newlines: "\n", "\r\n" and a bare "\r" each end a line; an empty
 *    line is an (unreadable) line too.
 *  - each line parsed as pydantic `JSONRPCMessage.model_validate_json` (jiter, allow_inf_nan
 *    on): leading/trailing JSON whitespace allowed, anything else after the value is
 *    unreadable; the LAST duplicate member wins; integers exact (BigInt past 2^53); `NaN`,
 *    `Infinity`, `-Infinity` accepted; lone surrogate escapes and raw control characters
 *    unreadable; then shape-checked as a JSON-RPC request/notification/response/error
 *    (a request with an invalid id still reads as a notification, the id kept as extra).
 * Unreadable lines are `{ unreadable: true, reason }` and reading goes on, as in the SDK.
 */
export function pythonSdkRead(bytes: Uint8Array, opts?: PythonReadOptions): unknown[] {
  return pythonRead(bytes, opts);
}

/**
 * The messages the Go SDK's stdio transport reads from this byte stream, as the handler
 * sees them (go-sdk mcp/transport.go `newIOConn`, `ioConn.Read`; internal/jsonrpc2
 * messages.go `DecodeMessage`):
 *  - a streaming `json.Decoder`, not a line scanner: any JSON whitespace before a value; a
 *    byte right after a value must be "\n" or "\r" (else fatal "invalid trailing data"), so
 *    `{…}\r{…}` on one "\n-line" is two messages while `{…} {…}` ends the session. The
 *    whole input counts as buffered. A JSON array is a batch.
 *  - strings: each invalid UTF-8 byte becomes U+FFFD (Go replaces per byte, so a truncated
 *    3-byte sequence gives two), a lone surrogate escape U+FFFD; no NaN/Infinity.
 *  - typed view: top-level `jsonrpc`, `id`, `method`, `params`, `result`, `error`, and in
 *    `tools/call` params `name`, `arguments`, `_meta`, matched like encoding/json: exactly or
 *    case-insensitively with Unicode simple folding (K U+212A ~ k, ſ U+017F ~ s), the last
 *    match winning (`_meta` maps merge); null into a string field changes nothing; ids are
 *    int64(float64); everything else generic with numbers as float64 (2^53+1 -> 2^53).
 *    `{ fieldMatching: 'exact' }` models go-sdk v1.3.1 and later (segmentio decoder with
 *    DontMatchCaseInsensitiveStructFields: exact names only); the default 'fold' is <= v1.3.0.
 *  - any framing or envelope error is `{ unreadable: true, fatal: true, reason }` and the
 *    last item (the connection closes); a bad tools/call params object is not fatal: the
 *    message keeps `params: { unreadable: true, reason }` (answered as invalid params).
 */
export function goSdkRead(bytes: Uint8Array, opts?: GoReadOptions): unknown[] {
  return goRead(bytes, opts);
}
