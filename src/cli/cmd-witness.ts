/**
 * `mcp-attest witness ...` (being written).
 */
import type { Command } from 'commander';

/** Register the `witness` commands. */
export function registerWitnessCommands(program: Command): void {
  void program;
}
