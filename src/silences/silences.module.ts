import { Module } from '@nestjs/common';
import { SilenceRepository } from './silence.repository';
import { SilencesController } from './silences.controller';
import { SilencesService } from './silences.service';

@Module({
  controllers: [SilencesController],
  providers: [SilenceRepository, SilencesService],
  exports: [SilencesService],
})
export class SilencesModule {}
