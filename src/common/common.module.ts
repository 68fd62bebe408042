import { DynamicModule, Global, Module } from '@nestjs/common';
import { Clock } from './clock';
import { ShutdownSignal } from './shutdown-signal';

@Global()
@Module({})
export class CommonModule {
  /** `clock` replaces the system clock (tests step across deduplication windows with it). */
  static forRoot(clock?: Clock): DynamicModule {
    return {
      module: CommonModule,
      providers: [clock ? { provide: Clock, useValue: clock } : Clock, ShutdownSignal],
      exports: [Clock, ShutdownSignal],
    };
  }
}
