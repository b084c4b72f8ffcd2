// Type test (npm run typecheck:tests, part of npm test): spawn() with a
// handle from defineTask checks the arguments and types the result. Each
// line marked as an expected error below must be one, or tsc fails (an
// unused directive is an error itself).
import { defineTask, spawn, start, type Task, type TaskResult } from '../../dist/index.js';

const add = defineTask('types-add', (a: number, b: number) => a + b);
const greet = defineTask('types-greet', async (name: string) => ({ greeting: `hi ${name}` }));

export async function check(): Promise<void> {
  const rt = await start({});
  const n: number = await rt.spawn(add, [1, 2]);
  const g: { greeting: string } = await rt.spawn(greet, ['x']);
  const viaApi: number = await spawn(add, [3, 4], { queue: 'default' });
  // By name: as before, untyped unless told.
  const byName = await rt.spawn<string>('types-greet', ['x']);
  const s: string = byName;

  // @ts-expect-error: a string where the task takes a number
  await rt.spawn(add, ['1', 2]);
  // @ts-expect-error: one argument missing
  await rt.spawn(add, [1]);
  // @ts-expect-error: the result is a number, not a string
  const wrong: string = await rt.spawn(add, [1, 2]);
  // @ts-expect-error: the async task's result is { greeting }, the promise is awaited in the type
  const notPromise: Promise<unknown> = await rt.spawn(greet, ['x']);
  // @ts-expect-error: not a task handle and not a name
  await rt.spawn((x: number) => x, [1]);
  // @ts-expect-error: an unknown option
  await rt.spawn(add, [1, 2], { quue: 'batch' });

  const r: TaskResult<typeof greet> = { greeting: 'ok' };
  const t: Task = add;
  void [n, g, viaApi, s, wrong, notPromise, r, t];
}
