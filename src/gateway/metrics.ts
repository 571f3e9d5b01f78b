/**
 * The gateway's `/metrics` (Prometheus text exposition format, through `prom-client`; names
 * in docs/gateway.md): requests by upstream and status, calls by upstream, refusals by
 * code, call latency, live sessions, messages dropped for want of a stream, and the log's
 * size, checkpointed size and cosignatures of its latest checkpoint.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LogStore } from '../store/log-store.js';

/** The gateway's metrics, in their own registry. */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'mcp_attest_gateway_requests_total', help: 'HTTP requests answered, by upstream and status', labelNames: ['upstream', 'status'] as const, registers: [this.registry] });
  readonly calls = new Counter({ name: 'mcp_attest_gateway_calls_total', help: 'tools/call requests relayed, by upstream', labelNames: ['upstream'] as const, registers: [this.registry] });
  readonly refusals = new Counter({ name: 'mcp_attest_gateway_refusals_total', help: 'requests refused by the gateway, by code', labelNames: ['code'] as const, registers: [this.registry] });
  readonly dropped = new Counter({ name: 'mcp_attest_gateway_dropped_messages_total', help: 'upstream messages with no open caller stream to go to', registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'mcp_attest_gateway_call_duration_seconds', help: 'tools/call time from request to the end of its response, seconds', labelNames: ['upstream'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry],
  });

  /** `sessions` counts live conversations; `log` is the log the gateway records into (either driver: a fleet's log is read from PostgreSQL). */
  constructor(sessions: () => number, log: LogStore) {
    new Gauge({ name: 'mcp_attest_gateway_sessions', help: 'live conversations (legacy sessions and 2026-07-28 relays)', registers: [this.registry], collect() { this.set(sessions()); } });
    new Gauge({ name: 'mcp_attest_log_size', help: 'entries in the transparency log', registers: [this.registry], async collect() { this.set(Number(await log.size())); } });
    new Gauge({ name: 'mcp_attest_log_checkpoint_size', help: 'tree size of the latest signed checkpoint (-1: none)', registers: [this.registry], async collect() { this.set(Number((await log.latestCheckpoint())?.size ?? -1n)); } });
    new Gauge({
      name: 'mcp_attest_log_checkpoint_cosignatures', help: 'witness cosignatures on the latest checkpoint', registers: [this.registry],
      // The cosignature lines follow the log's own signature line.
      async collect() { const c = await log.latestCheckpoint(); this.set(c === null ? 0 : c.note.split('\n').filter((l) => l.startsWith('\u2014 ')).length - 1); },
    });
  }
}
