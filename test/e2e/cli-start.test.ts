/**
 * The CLI's start-up paths (cli/main.ts): `--version` answered before anything is loaded,
 * help without running any action, a command's help from the texts the build rendered
 * (cli/help.ts) exactly as commander prints it.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'node:test';
import type { Command } from 'commander';
import type { HelpModel } from '../../src/cli/help.js';
import { CLI, ROOT } from './helpers.js';

const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('--version and -V print package.json\'s version and nothing else', () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = run([flag]);
    assert.deepEqual([r.status, r.stdout, r.stderr], [0, `${version}\n`, ''], flag);
  }
});

test('help of the program and of a command exits 0 with its usage; an unknown command exits 2 with a suggestion', () => {
  const top = run(['--help']);
  assert.equal(top.status, 0);
  for (const name of ['verify', 'proxy', 'gateway', 'agent']) assert.match(top.stdout, new RegExp(`\\n  ${name}\\b`), name);
  const verify = run(['verify', '--help']);
  assert.equal(verify.status, 0);
  assert.match(verify.stdout, /^Usage: mcp-attest verify/);
  const unknown = run(['verifx']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /Did you mean verify\?/);
});

/** Every command path of the program (names joined by spaces, '' for the program). */
async function commandPaths(): Promise<string[]> {
  const { createProgram } = await import('../../src/cli/commands.js');
  const paths: string[] = [];
  const walk = (c: Command, path: string[]): void => {
    paths.push(path.join(' '));
    for (const sub of c.commands) walk(sub, [...path, sub.name()]);
  };
  walk(await createProgram([]), []);
  return paths;
}

/** What commander prints and throws for `argv` parsed by `program` (its exit overridden), help rendered `width` columns wide (a terminal's; 80 as on a pipe), in colour when `colour`. */
async function parsed(program: Command, argv: string[], width = 80, colour = false): Promise<{ out: string; err: string; code: string | null; exitCode: number | null }> {
  const r = { out: '', err: '', code: null as string | null, exitCode: null as number | null };
  // Each command has its own output settings (copied from its parent when it was added).
  const configure = (c: Command): void => {
    c.configureOutput({
      writeOut: (s) => { r.out += s; }, writeErr: (s) => { r.err += s; },
      getOutHelpWidth: () => width, getErrHelpWidth: () => width, getOutHasColors: () => colour, getErrHasColors: () => colour,
    });
    c.commands.forEach(configure);
  };
  configure(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    r.code = (e as { code: string }).code;
    r.exitCode = (e as { exitCode: number }).exitCode;
  }
  return r;
}

test('an unknown command is answered from the command names alone, as commander answers it with every command loaded', async () => {
  const { COMMAND_NAMES, createProgram } = await import('../../src/cli/commands.js');
  const full = await createProgram([]);
  const { Help } = await import('commander');
  const visible = new Help().visibleCommands(full).flatMap((c) => [c.name(), ...c.aliases()]).filter((n) => n !== 'help');
  assert.deepEqual([...COMMAND_NAMES].sort(), visible.sort(), 'the names are every visible command and alias');
  for (const argv of [['verifx'], ['lgo'], ['receit', 'list'], ['sreve', '--json'], ['x'], ['Verify'], ['verifx', '-V'], ['proxi', '--', 'node', 's.js'], ['witnes', 'serve'], ['countersing', '--home', 'h']]) {
    const fast = await createProgram(argv);
    assert.equal(fast.commands.every((c) => c.commands.length === 0 && c.options.length === 0), true, `${argv.join(' ')}: no module loaded`);
    const want = await parsed(await createProgram([]), argv);
    assert.notEqual(want.code, null, argv.join(' '));
    assert.deepEqual(await parsed(fast, argv), want, argv.join(' '));
  }
  for (const argv of [['verifx', '--help'], ['verify', 'x'], ['help', 'verifx'], ['-x']]) {
    assert.equal((await createProgram(argv)).commands.some((c) => c.options.length > 0), true, `${argv.join(' ')}: modules loaded`);
  }
});

test('the help of the program and of every command is rendered from its model alone, as commander renders it with every command loaded, at any width', async () => {
  const { COMMAND_NAMES, createProgram, helpModels } = await import('../../src/cli/commands.js');
  const models = helpModels(await createProgram([], null));
  assert.deepEqual(Object.keys(models).sort(), (await commandPaths()).sort(), 'a model for every command');
  assert.ok(models['']!.commands.some((c) => c.name === 'verify' && c.term.startsWith('verify [options]')), 'the program\'s model has each command\'s term');
  for (const [path, model] of Object.entries(models)) {
    const words = path === '' ? [] : path.split(' ');
    for (const argv of [[...words, '--help'], [...words, '-h'], ...(path === '' ? [[], ['help']] : [])]) {
      for (const [width, colour] of [[40, false], [79, true], [80, false], [81, false], [120, true], [180, false]] as const) {
        const fast = await createProgram(argv, model);
        assert.equal(fast.commands.length, words.length === 0 ? COMMAND_NAMES.length : 1, `${argv.join(' ')}: the command's stub alone`);
        // Above the stub, a bare chain of the path's names.
        let stub = fast;
        for (const name of words) {
          assert.deepEqual([stub.commands.length, stub === fast || stub.options.length === 0, stub.commands[0]?.name()], [1, true, name], argv.join(' '));
          stub = stub.commands[0]!;
        }
        if (words.length === 0) assert.equal(fast.commands.every((c) => c.options.length === 0 && c.commands.length === 0), true, 'the program\'s commands are stubs');
        const want = await parsed(await createProgram(argv, null), argv, width, colour);
        assert.match(want.out + want.err, /^Usage: mcp-attest /, argv.join(' '));
        assert.deepEqual(await parsed(fast, argv, width, colour), want, `${argv.join(' ')} at ${width}`);
      }
    }
  }
  // A model commander cannot register is not used: every module is loaded.
  const log = models['log']!;
  const unusable: Array<[string[], HelpModel]> = [
    [['log', '--help'], { ...log, commands: [...log.commands, log.commands[0]!] }],
    [['log', '-h'], { ...log, options: [{ flags: '', description: '' }] }],
    [[], { ...models['']!, commands: [...models['']!.commands, models['']!.commands[0]!] }],
  ];
  for (const [argv, other] of unusable) {
    const program = await createProgram(argv, other);
    assert.equal(program.commands.some((c) => c.commands.some((sub) => sub.options.length > 0) || (argv.length === 0 && c.options.length > 0)), true, `${argv.join(' ')}: the modules`);
    assert.deepEqual(await parsed(program, argv), await parsed(await createProgram(argv, null), argv));
  }
  assert.equal((await createProgram(['verify'], models['verify']!)).commands.find((c) => c.name() === 'verify')?.options.length !== 0, true, 'a command line is not given a model');
  const helpVerify = await createProgram(['help', 'verify']);
  assert.deepEqual(helpVerify.commands.map((c) => c.name()), ['verify'], 'help of a command loads that command alone');
  assert.deepEqual(await parsed(helpVerify, ['help', 'verify']), await parsed(await createProgram([], null), ['help', 'verify']));
  const help = JSON.parse(readFileSync(join(dirname(CLI), 'help.json'), 'utf8')) as { models: unknown };
  assert.deepEqual(help.models, models, 'the build wrote the models');
});

test('the built CLI answers the help of the program and of each command, and an unknown command, without the command modules: their chunks deleted, the same bytes and exit codes', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'cli-nomodules-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  cpSync(join(ROOT, 'dist'), join(root, 'dist'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  const chunks = readdirSync(join(root, 'dist', 'cli')).filter((f) => f.startsWith('bundle.cmd-'));
  assert.ok(chunks.length >= 10, 'the command modules are chunks of their own');
  for (const f of chunks) rmSync(join(root, 'dist', 'cli', f));
  for (const args of [[], ['help'], ['verifx'], ['lgo', '--json']]) {
    const want = run(args);
    const got = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'main.cjs'), ...args], { encoding: 'utf8' });
    assert.deepEqual([got.status, got.stdout, got.stderr], [want.status, want.stdout, want.stderr], args.join(' '));
    assert.match(want.stdout + want.stderr, args.length === 0 || args[0] === 'help' ? /\n {2}verify \[options\] / : /unknown command/);
  }
  // A command's help on a terminal is the program's (the entry point answers a pipe from the texts): the same bytes as on a pipe, commander's own.
  const texts = (JSON.parse(readFileSync(join(ROOT, 'dist', 'cli', 'help.json'), 'utf8')) as { texts: Record<string, string> }).texts;
  for (const args of [['serve', '--help'], ['log', 'witnesses', 'list', '-h'], ['receipt', 'export', '--help'], ['gateway', '-h']]) {
    const got = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'program.js'), ...args], { encoding: 'utf8' });
    assert.deepEqual([got.status, got.stdout, got.stderr], [0, texts[args.slice(0, -1).join(' ')], ''], args.join(' '));
  }
  // What needs a module fails without it (the chunks are really gone).
  assert.notEqual(spawnSync(process.execPath, [join(root, 'dist', 'cli', 'main.cjs'), 'help', 'verify'], { encoding: 'utf8' }).status, 0);
  assert.notEqual(spawnSync(process.execPath, [join(root, 'dist', 'cli', 'program.js'), 'verify', 'nothing', '--help'], { encoding: 'utf8' }).status, 0);
});

test('every command\'s --help through the entry point is commander\'s own, byte for byte (stdout a pipe), with -h too', async () => {
  const help = JSON.parse(readFileSync(join(dirname(CLI), 'help.json'), 'utf8')) as { build: string; texts: Record<string, string> };
  // The texts are this build's: the entry point answers from them (and the comparison below is not commander's with itself).
  const build = readFileSync(join(dirname(CLI), 'build-id'), 'utf8').trim();
  assert.equal(help.build, build);
  assert.ok(readFileSync(CLI, 'utf8').includes(JSON.stringify(build)), 'main.cjs carries the build id');
  const paths = await commandPaths();
  assert.deepEqual(Object.keys(help.texts).sort(), [...paths].sort(), 'help.json has exactly the commands of the program');
  const { createProgram } = await import('../../src/cli/commands.js');
  const spawned = (args: string[]) => new Promise<[number | null, string, string]>((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8' }, (e, stdout, stderr) => {
      if (e !== null && typeof e.code !== 'number') reject(e);
      else resolve([e === null ? 0 : (e.code as number), stdout, stderr]);
    });
  });
  for (const path of paths) {
    const argv = [...(path === '' ? [] : path.split(' ')), path.length % 2 === 0 ? '--help' : '-h'];
    // Commander's own: every module loaded, stdout a pipe (80 columns, no colour).
    const real = await parsed(await createProgram(argv, null), argv);
    assert.equal(real.exitCode, 0, path);
    const fast = await spawned(argv);
    assert.deepEqual(fast, [0, real.out, real.err], argv.join(' '));
    assert.equal(fast[1], help.texts[path], path);
  }
});

test('the entry point answers help from the help.json of its own build beside the same commander release, and from no other', () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-help-'));
  const dir = join(root, 'cli');
  try {
    // The built entry point alone (not the program, nor any package but commander's
    // package.json): only help.json can answer.
    mkdirSync(dir);
    copyFileSync(CLI, join(dir, 'main.cjs'));
    const { build, commander } = JSON.parse(readFileSync(join(dirname(CLI), 'help.json'), 'utf8')) as { build: string; commander: string };
    mkdirSync(join(root, 'node_modules', 'commander'), { recursive: true });
    writeFileSync(join(root, 'node_modules', 'commander', 'package.json'), JSON.stringify({ version: commander }));
    const helpWith = (b: string) => {
      writeFileSync(join(dir, 'help.json'), JSON.stringify({ build: b, commander, texts: { verify: 'from help.json\n' } }));
      return spawnSync(process.execPath, [join(dir, 'main.cjs'), 'verify', '--help'], { encoding: 'utf8' });
    };
    const answered = helpWith(build);
    assert.deepEqual([answered.status, answered.stdout, answered.stderr], [0, 'from help.json\n', '']);
    // Another build's texts (a copy, a package, a later compile): commander is asked, and is not here.
    const other = helpWith(`${build}-other`);
    assert.notEqual(other.status, 0);
    assert.equal(other.stdout, '');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the entry point ends with the program: its output and exit code, 1 when it throws, 13 (never a silent 0) when it never settles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-program-'));
  try {
    copyFileSync(CLI, join(dir, 'main.cjs'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    const withProgram = (source: string) => {
      writeFileSync(join(dir, 'program.js'), source);
      return spawnSync(process.execPath, [join(dir, 'main.cjs'), 'verify', 'x'], { encoding: 'utf8' });
    };
    const ran = withProgram("process.stdout.write(process.argv.slice(2).join(' ') + '\\n'); process.exitCode = 2;");
    assert.deepEqual([ran.status, ran.stdout, ran.stderr], [2, 'verify x\n', '']);
    const threw = withProgram("throw new Error('boom');");
    assert.equal(threw.status, 1);
    assert.match(threw.stderr, /Error: boom/);
    const hung = withProgram('await new Promise(() => {});');
    assert.deepEqual([hung.status, hung.stdout], [13, '']);
    assert.match(hung.stderr, /never settled/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
