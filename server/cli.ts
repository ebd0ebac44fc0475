#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { serve } from './main.js';
import { CAPSULE_VERSION } from './version.js';

const USAGE = `Usage: capsule serve [--stdio]

  capsule serve           Streamable HTTP MCP server at http://CAPSULE_HOST:CAPSULE_PORT/mcp
  capsule serve --stdio   MCP over stdin/stdout for one client
  capsule --version

Settings are CAPSULE_* environment variables (see README.md).`;

async function cli(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { stdio: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
  });
  if (values.version) return void process.stdout.write(`${CAPSULE_VERSION}\n`);
  const [command = 'serve', ...rest] = positionals;
  if (values.help || command !== 'serve' || rest.length > 0) {
    process.stderr.write(`${USAGE}\n`);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  await serve({ stdio: values.stdio ?? false });
}

cli(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`capsule: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
