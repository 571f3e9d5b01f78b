/**
 * [identity] Agent credentials (docs/identity.md), in process:
 * 1. what the credential decision adds to the gate's per-call latency: `Gate.check` on
 *    attestations made by a plain trusted issuer, and on attestations made under a credential
 *    (and under a sub-agent's, a chain of two) read from an identity log holding `others`
 *    further credentials, beside raw node:crypto ES256 verifies (the machine's limit: the
 *    credential path verifies one signature per link of the chain, the plain path one);
 * 2. what a bundle carries for the identity proof: bundles of 1, 100 and 10,000 calls made
 *    under one credential, with and without `others` credentials issued in the identity log
 *    between the credential and the checkpoint (a fleet's day), bytes and verify time, beside
 *    the same calls without the identity proof verified with the agent's key trusted outright
 *    (every signature still checked: the difference is the identity decision alone).
 */
import { createSign, createVerify, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { Gate, MemoryReplayStore } from '../src/gate/gate.js';
import { loadGatePolicy } from '../src/gate/policy.js';
import { issueAttestation } from '../src/attestation/build.js';
import { initHome, loadIdentity, loadIssuerSigner, trustPolicyOf } from '../src/store/identity.js';
import { initCredentialIssuer, withOwnCredentialIssuer } from '../src/store/credential-issuer.js';
import { agentKeyOf, issueCredential } from '../src/store/agent-credentials.js';
import { homeIdentityLog, identitySource } from '../src/store/identity-log.js';
import { Recorder } from '../src/proxy/recorder.js';
import { buildBundle, selectEntries, sqliteCheckpoints } from '../src/store/bundle-build.js';
import { addIdentity } from '../src/store/bundle-identity.js';
import { formatBundle } from '../src/bundle/format.js';
import { verifyBundle } from '../src/verify/bundle.js';
import { policyKeyResolver, type TrustPolicy } from '../src/verify/policy.js';
import { writeFileSync } from 'node:fs';
import type { Signer } from '../src/envelope/sign.js';
import { BENCH_FP, TOOL, callArgs, createAgent, writeBenchPolicy } from './agent.js';
import { summarize, toRow, type Row, type Summary } from './stats.js';

/** One bundle measured: calls, identity entries carried, bytes with and without the identity proof, verify times. */
export interface IdentityBundleRow { calls: number; others: number; identityEntries: number; bytes: number; bytesWithout: number; verify: Summary; verifyWithout: Summary }

const now = (): number => Math.floor(Date.now() / 1000);

/** Sign `count` attestations of calls `0..count-1` with `signer`. */
async function sign(signer: Signer, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    out.push(JSON.stringify(await issueAttestation(signer, { tool: TOOL, args: callArgs(i), serverFingerprint: BENCH_FP, intent: 'bench', now: now() })));
  }
  return out;
}

/** Time `Gate.check` over `texts` (each must be allowed); a row in ms. */
async function timeGate(name: string, gate: Gate, texts: string[], warmup: number): Promise<Row> {
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < texts.length; i++) {
    const t = performance.now();
    const d = await gate.check({ name: TOOL, args: callArgs(i), attestation: texts[i]!, now: now() });
    if (!d.allowed) throw new Error(`bench: ${name}: call ${i} refused: ${d.code}: ${d.message}`);
    if (i >= warmup) times.push(performance.now() - t);
  }
  return toRow(name, times, performance.now() - start);
}

/** Raw node:crypto ES256 verifies of one message, `n` times: the limit per signature. */
function rawVerify(n: number): Row {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = Buffer.alloc(600, 7);
  const sig = createSign('sha256').update(data).sign({ key: privateKey, dsaEncoding: 'ieee-p1363' });
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    if (!createVerify('sha256').update(data).verify({ key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('bench: raw verify failed');
    times.push(performance.now() - t);
  }
  return toRow('raw node:crypto ES256 verify (one signature)', times, performance.now() - start);
}

/** An issuer home with `others` credentials for other agents, then the agent's credential and a sub-agent's under it. */
async function issuerWorld(dir: string, others: number) {
  const [idp, agent, sub] = [join(dir, 'idp'), join(dir, 'agent'), join(dir, 'sub')];
  for (const h of [idp, agent, sub]) await initHome(h);
  await initCredentialIssuer(idp, { id: 'idp:bench', subjectPrefix: 'agent:bench/', maxDepth: 1 });
  const other = agentKeyOf(sub);
  for (let i = 0; i < others; i++) await issueCredential(idp, { subject: `agent:bench/other-${i}`, key: other, ttl: 86_400 });
  const parent = (await issueCredential(idp, { subject: 'agent:bench/a', key: agentKeyOf(agent), ttl: 86_400, maxDepth: 1 })).credential;
  const child = (await issueCredential(idp, { subject: 'agent:bench/a/r', key: agentKeyOf(sub), ttl: 3_600, parent }, agent)).credential;
  const signerOf = (home: string, c: { id: string; subject: string }): Signer => ({ ...loadIssuerSigner(home, loadIdentity(home)), iss: c.id, sub: c.subject });
  return { idp, agent: signerOf(agent, parent), sub: signerOf(sub, child) };
}

/** Part 1: the gate's per-call latency, plain and under credentials. */
export async function benchIdentityGate(dir: string, calls: number, warmup: number, others: number): Promise<Row[]> {
  const w = await issuerWorld(join(dir, 'gate'), others);
  const plain = createAgent();
  writeFileSync(join(dir, 'gate', 'idp-trust.json'), JSON.stringify(withOwnCredentialIssuer(w.idp, trustPolicyOf(loadIdentity(w.idp)))));
  const { policy, keys } = await loadGatePolicy(writeBenchPolicy(join(dir, 'gate'), [plain.issuer], ['idp-trust.json'], 'gate-policy.json'));
  const rows: Row[] = [];
  for (const [name, signer] of [['plain trusted issuer', plain.signer], ['under a credential (chain of 1)', w.agent], ['under a sub-agent\'s credential (chain of 2)', w.sub]] as const) {
    const gate = new Gate({ policy, keys, serverFingerprint: BENCH_FP, replay: new MemoryReplayStore(), identity: identitySource(w.idp) });
    rows.push(await timeGate(`Gate.check, ${name}`, gate, await sign(signer, warmup + calls), warmup));
  }
  rows.push(rawVerify(calls));
  return rows;
}

/** Part 2: bundle bytes and verify time with the identity proof, for `sizes` calls, with 0 and `others` other credentials in range. */
export async function benchIdentityBundles(dir: string, sizes: number[], others: number, runs: number): Promise<IdentityBundleRow[]> {
  const rows: IdentityBundleRow[] = [];
  for (const n of [0, others]) {
    const w = await issuerWorld(join(dir, `bundles-${n}`), 0);
    // The others are issued after the agent's credential, before the identity checkpoint the bundle uses.
    const key = agentKeyOf(join(dir, `bundles-${n}`, 'sub'));
    for (let i = 0; i < n; i++) await issueCredential(w.idp, { subject: `agent:bench/later-${i}`, key, ttl: 86_400 });
    const size = BigInt(n + 3);
    const cred = w.agent.iss;
    const r = await Recorder.open(w.idp, { durability: 'normal', checkpointMs: 1e9, evidence: false });
    try {
      const chain = [{ id: cred, index: '1' }];
      for (const text of await sign(w.agent, Math.max(...sizes))) {
        const a = JSON.parse(text) as { issuerAsserted: { nonce: string } } & Record<string, never>;
        await r.decision({ callId: a.issuerAsserted.nonce, server: { name: 'bench', fingerprint: BENCH_FP }, tool: TOOL, requestDigest: `sha256:${'00'.repeat(32)}`, decision: 'allowed', reason: null, code: null, attestation: a, credential: { chain, identitySize: size.toString() } });
      }
      await r.checkpoint();
      const plain = trustPolicyOf(loadIdentity(w.idp));
      const policy = withOwnCredentialIssuer(w.idp, plain);
      // The same calls verified with the agent's key trusted as a plain issuer under the credential's id: no identity decision at all.
      const agentKey = agentKeyOf(join(dir, `bundles-${n}`, 'agent'));
      const keyOnly: TrustPolicy = { ...plain, issuers: [...plain.issuers, { iss: cred, alg: agentKey.alg, keyId: agentKey.keyId, publicKeyJwk: agentKey.publicKeyJwk }] };
      for (const calls of sizes) {
        const indexes = selectEntries(r.db, { range: [1n, BigInt(calls)] });
        const bundle = buildBundle(r.db, indexes, [], calls > 1);
        const withoutText = formatBundle(bundle);
        await addIdentity(homeIdentityLog(w.idp), sqliteCheckpoints(r.db), bundle);
        const withText = formatBundle(bundle);
        const time = async (text: string, p: TrustPolicy): Promise<Summary> => {
          const times: number[] = [];
          for (let i = 0; i < runs; i++) {
            const t = performance.now();
            const report = await verifyBundle(text, p, policyKeyResolver(p));
            times.push(performance.now() - t);
            if (!report.ok) throw new Error(`bench: identity bundle of ${calls} calls did not verify: ${JSON.stringify(report.findings.slice(0, 2))}`);
          }
          return summarize(times);
        };
        rows.push({ calls, others: n, identityEntries: bundle.identity?.entries.length ?? 0, bytes: Buffer.byteLength(withText), bytesWithout: Buffer.byteLength(withoutText), verify: await time(withText, policy), verifyWithout: await time(withoutText, keyOnly) });
      }
    } finally {
      await r.close();
    }
  }
  return rows;
}
