/**
 * Write docs/gateway.schema.json: the JSON Schema (draft 2020-12, input form: members with
 * defaults are optional) of the gateway configuration, generated from its zod schema
 * (src/gateway/config.ts). `--check` exits 1 when the file differs (test/unit/gateway-config.test.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { gatewayJsonSchema } from '../src/gateway/config.js';

const path = new URL('../docs/gateway.schema.json', import.meta.url);
const text = gatewayJsonSchema();
if (process.argv.includes('--check')) {
  if (readFileSync(path, 'utf8') !== text) {
    process.stderr.write('docs/gateway.schema.json is stale: run node --import tsx scripts/gen-gateway-schema.ts\n');
    process.exit(1);
  }
} else writeFileSync(path, text);
