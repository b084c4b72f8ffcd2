// Loads a config file: .json, or a JS module (.js/.mjs/.cjs) whose default
// export (or `config` export) is the config or a function returning it.
// Every failure is a ConfigError naming the file, so the CLI can print it
// the same way as validation errors ("config <file>: <issue>").
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, type GatioConfig } from './config.js';

const EXTENSIONS = ['.json', '.js', '.mjs', '.cjs'];

/** Reads the config at `path`. It is not validated here (that needs a topology): pass it to plan(). */
export async function loadConfig(path: string): Promise<GatioConfig> {
  const file = resolve(path);
  const fail = (message: string): never => {
    throw new ConfigError([{ path: '', message }], [], file);
  };
  const ext = extname(file).toLowerCase();
  if (!EXTENSIONS.includes(ext)) fail(`unsupported file type "${ext || '(none)'}": a config is a ${EXTENSIONS.join(', ')} file`);
  try {
    if (!(await stat(file)).isFile()) fail('not a file');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const e = err as NodeJS.ErrnoException;
    fail(e.code === 'ENOENT' ? 'no such file' : `cannot read: ${e.message}`);
  }

  let value: unknown;
  if (ext === '.json') {
    const text = await readFile(file, 'utf8');
    try {
      value = JSON.parse(text);
    } catch (err) {
      fail(`invalid JSON: ${jsonErrorMessage((err as Error).message, text)}`);
    }
  } else {
    let ns: Record<string, unknown>;
    try {
      ns = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      return fail(`cannot load module: ${(err as Error).message}`);
    }
    // `export const config = ...` (or CommonJS `exports.config = ...`, which Node
    // also exposes as default.config) wins; otherwise the default export.
    const named = ns.config;
    const dflt = ns.default as { config?: unknown } | undefined;
    value = named !== undefined && (dflt === undefined || dflt?.config === named) ? named : dflt;
    if (value === undefined) fail('the module exports no config (give it a default export, or export const config = { ... })');
    if (typeof value === 'function') {
      try {
        value = await (value as () => unknown)();
      } catch (err) {
        fail(`the exported config function threw: ${(err as Error).message}`);
      }
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`expected a config object, got ${Array.isArray(value) ? 'a list' : value === null ? 'null' : typeof value}`);
  }
  return value as GatioConfig;
}

/** Turns V8's "... at position 42" into "line 3, column 5: ..." when the position is given. */
function jsonErrorMessage(message: string, text: string): string {
  const m = /\s*(?:in JSON )?at position (\d+)/.exec(message);
  if (!m) return message;
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `line ${line}, column ${column}: ${message.slice(0, m.index)}${message.slice(m.index + m[0].length)}`;
}
