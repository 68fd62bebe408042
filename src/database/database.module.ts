import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { StoreErrorSink } from './store-faults';
import { StoreHealth } from './store-health';
import { migrateToLatest, OpenedDatabase, openDatabase } from './database';
import { DATABASE, DIALECT } from './tokens';
import { Transactor } from './transactor';

const OPENED_DATABASE = Symbol('OPENED_DATABASE');

/** Opens the configured store, applies migrations before anything else runs, closes on shutdown. */
@Global()
@Module({
  providers: [
    {
      provide: OPENED_DATABASE,
      inject: [APP_CONFIG, StoreErrorSink],
      useFactory: async (config: AppConfig, errors: StoreErrorSink) => {
        const opened = openDatabase(config, errors);
        try {
          await migrateToLatest(opened.db, opened.dialect);
        } catch (err) {
          await opened.close();
          throw err;
        }
        return opened;
      },
    },
    { provide: DATABASE, inject: [OPENED_DATABASE], useFactory: (o: OpenedDatabase) => o.db },
    { provide: DIALECT, inject: [OPENED_DATABASE], useFactory: (o: OpenedDatabase) => o.dialect },
    { provide: StoreErrorSink, useFactory: () => new StoreErrorSink() },
    Transactor,
    StoreHealth,
  ],
  exports: [DATABASE, DIALECT, Transactor, StoreHealth],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(OPENED_DATABASE) private readonly opened: OpenedDatabase) {}

  async onApplicationShutdown(): Promise<void> {
    await this.opened.close();
  }
}
