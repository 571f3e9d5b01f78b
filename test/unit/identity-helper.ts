/**
 * An issuer and an agent for identity tests: two fresh data directories in a temporary
 * directory removed after the test, the first a credential issuer (`idp:acme`, subjects under
 * `agent:acme/`), and the agent's key as a credential names it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initHome } from '../../src/store/identity.js';
import { initCredentialIssuer } from '../../src/store/credential-issuer.js';
import { agentKeyOf } from '../../src/store/agent-credentials.js';

/** The temporary directory, the issuer's and the agent's data directories in it, and the agent's key. */
export async function issuerAndAgent(t: { after: (fn: () => void) => void }, prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [idp, agent] = [join(dir, 'idp'), join(dir, 'agent')];
  await initHome(idp);
  await initHome(agent);
  await initCredentialIssuer(idp, { id: 'idp:acme', subjectPrefix: 'agent:acme/' });
  return { dir, idp, agent, key: agentKeyOf(agent) };
}
