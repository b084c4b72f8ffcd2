// Tasks for bench/spawn.mjs, as gatio task modules define them.
import { defineTask } from 'gatio';
import { add, work1us } from './peers/work.mjs';

defineTask('add', add);
defineTask('work1us', work1us);
// bench/cold-trace.mjs: when the task started, on the wall clock every thread shares.
defineTask('wallClock', () => performance.timeOrigin + performance.now());
// bench/cold-stretches.mjs: when the driver woke from its park (set by bench/cold-stretches.patch) and now.
defineTask('wakeClock', () => [globalThis.__coldWake ?? 0, performance.timeOrigin + performance.now()]);
