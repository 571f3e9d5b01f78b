/**
 * Task-augmented calls (MCP 2025-11-25 "Tasks"): a `tools/call` with `params.task` is
 * answered with a task handle (`{"task":{"taskId",…}}`), receipted `errored`, reason
 * `task_created`; the tool's own result comes later, as the answer to a `tasks/result`
 * request naming that `taskId`. The relay remembers each task handle it receipted, with the
 * call and that receipt's digest, and treats the first `tasks/result` for it as the call
 * again: its answer is receipted as the task's result (`outcomeDerived.taskReceiptDigest`,
 * docs/receipt.md), once per task. A `tasks/result` that gets no answer (cancelled, its
 * stream lost) gives the task back, so a later one is still receipted; one for a task this
 * relay did not see created (another process's, or one forgotten past the cap) is relayed
 * unreceipted, as any request.
 */
import { isObject } from '../envelope/schema.js';
import type { RpcMessage } from './message.js';
import type { PendingCall } from './relay-io.js';
import type { Receipt } from '../receipt/schema.js';
import { receiptDigest } from '../receipt/build.js';

/** Most task handles remembered per relay; past it the oldest is forgotten (its result is then relayed unreceipted, and stderr says so). */
export const MAX_OPEN_TASKS = 4096;
/** Longest `taskId` remembered, in characters. */
const MAX_TASK_ID = 1024;

/** The task handles of a relay's calls, awaiting their `tasks/result`. */
export class OpenTasks<P extends PendingCall> {
  private readonly open = new Map<string, P>();

  constructor(private readonly warn: (message: string) => void) {}

  /** The call `call` was answered with `result`, receipted with `receipt`: when that is a task handle's receipt (`task_created`), the task is open. */
  created(result: unknown, call: P, receipt: Receipt): void {
    if (receipt.outcomeDerived.reason !== 'task_created') return;
    const task = isObject(result) ? result['task'] : undefined;
    const id = isObject(task) ? task['taskId'] : undefined;
    if (typeof id !== 'string' || id === '' || id.length > MAX_TASK_ID) return;
    const open = this.open.get(id);
    if (open !== undefined) {
      // Two calls under one task id: which one a result answers cannot be told, so neither is receipted.
      this.open.delete(id);
      this.warn(`task ${JSON.stringify(id.slice(0, 64))} was given to call ${open.callId} and again to call ${call.callId}: its result will be relayed without a receipt`);
      return;
    }
    this.remember(id, { ...call, cancelled: false, task: false, taskId: id, taskReceiptDigest: receiptDigest(receipt) });
  }

  /** For a `tasks/result` request naming a remembered task: the call its answer is receipted for (the task is taken); else null. */
  take(msg: RpcMessage): P | null {
    if (msg.method !== 'tasks/result') return null;
    const id = msg.params?.['taskId'];
    const call = typeof id === 'string' ? this.open.get(id) : undefined;
    if (call === undefined) return null;
    this.open.delete(id as string);
    return call;
  }

  /**
   * A request got no answer (cancelled, its stream lost, the relay ending): when it is a
   * `tasks/result`, its task is open again (a later one may still fetch it) and true is
   * returned, nothing being receipted (the handle's receipt stands); false for a call.
   */
  unanswered(call: P): boolean {
    if (call.taskId === undefined || call.taskReceiptDigest === undefined) return false;
    this.remember(call.taskId, { ...call, cancelled: false });
    return true;
  }

  private remember(id: string, call: P): void {
    this.open.delete(id);
    this.open.set(id, call);
    if (this.open.size <= MAX_OPEN_TASKS) return;
    const [oldest, old] = this.open.entries().next().value as [string, P];
    this.open.delete(oldest);
    this.warn(`more than ${MAX_OPEN_TASKS} tasks open: the result of task ${JSON.stringify(oldest.slice(0, 64))} (call ${old.callId}) will be relayed without a receipt`);
  }
}

/** The receipt fields of a task's result, when `p` is one. */
export function taskOf(p: PendingCall): { taskReceiptDigest?: string } {
  return p.taskReceiptDigest === undefined ? {} : { taskReceiptDigest: p.taskReceiptDigest };
}
