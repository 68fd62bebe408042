import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Kysely } from 'kysely';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { migrateToLatest, openDatabase } from './database';
import type { Database } from './schema';
import { DATABASE, DIALECT } from './tokens';
import { Transactor } from './transactor';
import { DatabaseHealth } from './database.health';

/** Opens the configured store, applies migrations before anything else runs, closes on shutdown. */
@Global()
@Module({
  providers: [
    {
      provide: 'OPENED_DATABASE',
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => {
        const opened = openDatabase(config);
        try {
          await migrateToLatest(opened.db, opened.dialect);
        } catch (err) {
          await opened.db.destroy();
          throw err;
        }
        return opened;
      },
    },
    { provide: DATABASE, inject: ['OPENED_DATABASE'], useFactory: (o: { db: Kysely<Database> }) => o.db },
    { provide: DIALECT, inject: ['OPENED_DATABASE'], useFactory: (o: { dialect: string }) => o.dialect },
    Transactor,
    DatabaseHealth,
  ],
  exports: [DATABASE, DIALECT, Transactor, DatabaseHealth],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(DATABASE) private readonly db: Kysely<Database>) {}

  async onApplicationShutdown(): Promise<void> {
    await this.db.destroy();
  }
}
