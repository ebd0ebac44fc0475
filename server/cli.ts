#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { newToken } from './auth/tokens.js';
import { CAPSULE_VERSION } from './version.js';

const USAGE = `Usage: capsule serve [--stdio] | capsule new-token <name>

  capsule serve            Streamable HTTP MCP server at http://CAPSULE_HOST:CAPSULE_PORT/mcp
  capsule serve --stdio    MCP over stdin/stdout for one client
  capsule new-token NAME   Print a new random token and its CAPSULE_TOKENS_FILE line
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
  if (command === 'new-token' && rest.length === 1 && !values.help) {
    const { token, line } = newToken(rest[0]!);
    process.stdout.write(`token (give it to the client; shown once): ${token}\nline for CAPSULE_TOKENS_FILE: ${line}\n`);
    return;
  }
  if (values.help || command !== 'serve' || rest.length > 0) {
    process.stderr.write(`${USAGE}\n`);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  // Telemetry starts before the HTTP stack is imported, so http and express get instrumented.
  const { startTelemetry } = await import('./telemetry/setup.js');
  const telemetry = startTelemetry();
  const { serve } = await import('./main.js');
  await serve({ stdio: values.stdio ?? false, telemetry });
}

cli(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`capsule: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
