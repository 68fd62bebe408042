import { Module } from '@nestjs/common';
import { IncidentsModule } from '../incidents/incidents.module';
import { SilenceRepository } from './silence.repository';
import { SilencesController } from './silences.controller';
import { SilencesService } from './silences.service';

@Module({
  imports: [IncidentsModule],
  controllers: [SilencesController],
  providers: [SilenceRepository, SilencesService],
  exports: [SilencesService],
})
export class SilencesModule {}
