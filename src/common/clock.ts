import { Injectable } from '@nestjs/common';

/** The source of "now"; tests replace it to step across deduplication windows. */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }
}
