/**
 * `npm run keys -- <command>`: API keys on the configured store (the same config file and
 * environment as the service), for the first key and for recovery when no admin key is left.
 *
 *   create --name <name> --scope <scope> [--scope <scope> ...] [--expires-at <ISO date>]
 *   list
 *   revoke <id>
 *   generate      a new key, not stored: for the variable auth.bootstrap_key_env names
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DomainError, ValidationFailed } from '../common/domain-error';
import { ConfigError, readConfig } from '../config/config.loader';
import { migrateToLatest, openDatabase } from '../database/database';
import { generateApiKey, SCOPES } from './api-key-format';
import { ApiKeyRepository } from './api-key.repository';
import { ApiKeysService } from './api-keys.service';

const USAGE = `usage: npm run keys -- create --name <name> --scope <scope> [--scope <scope> ...] [--expires-at <ISO date>]
       npm run keys -- list
       npm run keys -- revoke <id>
       npm run keys -- generate
scopes: ${SCOPES.join(', ')}`;

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'generate') {
    process.stdout.write(`${generateApiKey().key}\n`);
    return;
  }
  if (!command || !['create', 'list', 'revoke'].includes(command)) fail(USAGE);
  let args: ReturnType<
    typeof parseArgs<{
      options: { name: { type: 'string' }; scope: { type: 'string'; multiple: true }; 'expires-at': { type: 'string' } };
      allowPositionals: true;
    }>
  >;
  try {
    args = parseArgs({
      args: rest,
      options: { name: { type: 'string' }, scope: { type: 'string', multiple: true }, 'expires-at': { type: 'string' } },
      allowPositionals: true,
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  let config;
  try {
    config = readConfig().config;
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  Logger.overrideLogger(['error']);
  const opened = openDatabase(config);
  try {
    await migrateToLatest(opened.db, opened.dialect);
    const keys = new ApiKeysService(config, new ApiKeyRepository(opened.db), new Clock());
    if (command === 'create') {
      const { key, view } = await keys.create({ name: args.values.name ?? '', scopes: args.values.scope ?? [], expires_at: args.values['expires-at'] }, 'cli');
      process.stderr.write(
        `created key ${view.id} "${view.name}" with ${view.scopes.join(', ')}${view.expires_at ? `, expiring ${view.expires_at}` : ''}; it is shown only now:\n`,
      );
      process.stdout.write(`${key}\n`);
    } else if (command === 'list') {
      for (const k of await keys.list()) {
        process.stdout.write(
          `${k.id}  ${k.status.padEnd(7)}  ${k.name}  [${k.scopes.join(' ')}]  created ${k.created_at}  last used ${k.last_used_at ?? 'never'}\n`,
        );
      }
    } else {
      const id = args.positionals[0];
      if (!id) fail(USAGE);
      const view = await keys.revoke(id, 'cli');
      process.stdout.write(`revoked ${view.id} "${view.name}" at ${view.revoked_at}\n`);
    }
  } catch (err) {
    if (err instanceof ValidationFailed)
      fail(
        err.issues
          .map((i) => `${i.field === 'scopes' || i.field.startsWith('scopes[') ? '--scope' : `--${i.field.replace('_', '-')}`}: ${i.message}`)
          .join('\n'),
      );
    if (err instanceof DomainError) fail(err.message, 1);
    throw err;
  } finally {
    await opened.close();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
