/** This release's version, as `mcp-attest --version` prints it (package.json's `version`; a unit test keeps them equal). */
export const VERSION = '0.1.0';
