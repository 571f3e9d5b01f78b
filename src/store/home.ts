/**
 * The data directory ("home"): `--home DIR`, else `$MCP_ATTEST_HOME`, else
 * `$XDG_DATA_HOME/mcp-attest`, else `~/.local/share/mcp-attest` (DESIGN.md, CLI contract).
 *
 * Layout:
 * ```
 * identity.json          public identity: iss, default sub, issuer key id/alg, log origin/vkey
 * keys/issuer.pem        issuer private key (PKCS#8 PEM; HS256: keys/issuer.secret, 32 raw bytes), 0600
 * keys/issuer.pub.pem    issuer public key (SPKI PEM; absent for HS256)
 * keys/log.pem           Ed25519 log private key (PKCS#8 PEM), 0600
 * keys/identity.json     the same file as identity.json (a hard link): published with the keys, then linked
 * log.db                 the SQLite log: entries (with the Merkle nodes each completes), checkpoints
 * evidence.db            payloads (arguments, results, session evidence), named by the SHA-256 of their JCS
 * nonces.db              the gatekeeper's replay store (nonces until iat + expSeconds + skew)
 * pins.db                tool definition pins (digest of every tool definition seen in tools/list)
 * issuers/<id>.json      public keys of further issuers signing into this log (a gateway principal's own key)
 * log-moved.json         the log is a fleet's (log migrate, log integrate); integrator-signed.json: what its integrator signed
 * ```
 */
import { lstatSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Resolve the data directory from an explicit option and the environment. */
export function resolveHome(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (option) return resolve(option);
  if (env['MCP_ATTEST_HOME']) return resolve(env['MCP_ATTEST_HOME']);
  const xdg = env['XDG_DATA_HOME'];
  return join(xdg ? resolve(xdg) : join(homedir(), '.local', 'share'), 'mcp-attest');
}

/** Paths of the files inside a data directory. */
export function homePaths(home: string) {
  return {
    home,
    identity: join(home, 'identity.json'),
    keys: join(home, 'keys'),
    issuerKey: join(home, 'keys', 'issuer.pem'),
    issuerSecret: join(home, 'keys', 'issuer.secret'),
    issuerPublic: join(home, 'keys', 'issuer.pub.pem'),
    logKey: join(home, 'keys', 'log.pem'),
    db: join(home, 'log.db'),
    evidence: join(home, 'evidence.db'),
    nonces: join(home, 'nonces.db'),
    pins: join(home, 'pins.db'),
    issuers: join(home, 'issuers'),
    /** Written by `log migrate` or `log integrate`: the log is a fleet's; no process records into a SQLite log there again. */
    moved: join(home, 'log-moved.json'),
    /** Written by `log integrate`: the last tree this key signed as a fleet's integrator (cli/integrate.ts). */
    integratorSigned: join(home, 'integrator-signed.json'),
  };
}

/** Whether anything is at `path` (a link counts, even a dangling one); throws what `lstat` throws but ENOENT / ENOTDIR. */
export function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw e;
  }
}
