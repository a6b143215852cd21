// Small helpers shared by the config tests.

import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import type { Config, ParseOptions, ParseResult } from '../../src/config/index.js';

export function run(argv: string[], env: NodeJS.ProcessEnv = {}, options: ParseOptions = {}): ParseResult {
  return parseConfig(argv, env, options);
}

/** Parses and insists on success. */
export function ok(argv: string[], env: NodeJS.ProcessEnv = {}, options: ParseOptions = {}): Config {
  const r = run(argv, env, options);
  assert.equal(r.error, undefined, `unexpected error: ${r.error?.message}`);
  assert.ok(r.config, 'expected a config');
  return r.config;
}

/** Parses and insists on failure; returns the message. */
export function fails(argv: string[], env: NodeJS.ProcessEnv = {}, options: ParseOptions = {}): { message: string; exitCode: number; usage?: boolean } {
  const r = run(argv, env, options);
  assert.ok(r.error, `expected an error, got ${r.action ?? 'a config'}`);
  assert.equal(r.config, undefined);
  return r.error;
}

/** Parses a YAML config file given as text. */
export function fromYaml(yaml: string, argv: string[] = [], env: NodeJS.ProcessEnv = {}): ParseResult {
  return parseConfig(['--config-file', '/etc/etcd.yml', ...argv], env, { readFile: () => yaml });
}
