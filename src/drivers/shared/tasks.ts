// The task registry: task modules call defineTask(name, fn); every exec and
// hybrid driver imports the same modules, so every driver knows the same
// tasks under the same names.
//
// The registry lives in the thread's slot (../slot.ts), so a task module
// that loads gatio's CommonJS build and a driver running the ESM build
// (two module instances) still share one registry per thread.
import { threadSlot } from '../slot.js';

export type TaskFn = (...args: any[]) => unknown;

export interface TaskContext {
  /** aborted when the caller's AbortSignal fires, or at shutdown past the deadline */
  signal: AbortSignal;
  /** the driver running the task */
  driver: { id: number; name: string; tpc: number; pu: number };
  /** the task queue the task runs in */
  queue: string;
}

/**
 * A task's context. The AbortController behind `signal` is made only when
 * someone asks for the signal or aborts the task: most tasks never do, and
 * an AbortController costs more than a small task (bench/micro.mjs,
 * docs/benchmarks.md).
 */
export class LazyTaskContext implements TaskContext {
  #controller: AbortController | undefined;
  #reason: unknown;
  constructor(
    readonly driver: TaskContext['driver'],
    readonly queue: string,
  ) {}
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }
  abort(reason: unknown): void {
    if (this.#controller) this.#controller.abort(reason);
    else this.#reason ??= reason;
  }
}

interface Registry {
  tasks: Map<string, TaskFn>;
  /** name by task function (spawn(handle)); in the thread's registry so that two module instances share it */
  names: WeakMap<TaskFn, string>;
  /** the context of the task being started right now (valid synchronously at start) */
  current: TaskContext | undefined;
}

export function registry(): Registry {
  const slot = threadSlot();
  const r = (slot.tasks ??= { tasks: new Map(), names: new WeakMap(), current: undefined } satisfies Registry) as Registry;
  r.names ??= new WeakMap();
  return r;
}

/**
 * What defineTask returns: the task's function, typed with its name, so that
 * `spawn(handle, args)` checks the arguments and types the result. Import
 * the task module where you spawn (the main thread too) to use it.
 */
export type Task<F extends TaskFn = TaskFn> = F & { readonly [TASK_NAME]: string };
declare const TASK_NAME: unique symbol;

/** The name a task was defined under, for a handle (or a name) given to spawn. */
export function taskName(task: string | TaskFn): string {
  if (typeof task === 'string') return task;
  const n = typeof task === 'function' ? registry().names.get(task) : undefined;
  if (n === undefined) throw new TypeError('gatio: spawn(task): not a task name nor a function defineTask() returned on this thread (import the task module here, or spawn by name)');
  return n;
}

/**
 * Registers a task under a name. Call it at the top level of a task module
 * listed in the config's `modules`; spawn(name, args) — or spawn(the
 * returned handle, args), typed — runs fn(...args) on a driver.
 */
export function defineTask<F extends TaskFn>(name: string, fn: F): Task<F> {
  if (typeof name !== 'string' || name === '') throw new TypeError('defineTask: the name must be a non-empty string');
  if (typeof fn !== 'function') throw new TypeError(`defineTask("${name}"): expected a function, got ${typeof fn}`);
  const tasks = registry().tasks;
  if (tasks.has(name) && tasks.get(name) !== fn) {
    throw new Error(`defineTask: a task named "${name}" is already defined (each name once across all modules)`);
  }
  tasks.set(name, fn);
  registry().names.set(fn, name);
  return fn as Task<F>;
}

/** The arguments and the settled result of a task handle. */
export type TaskArgs<T> = T extends (...args: infer A) => unknown ? A : never;
export type TaskResult<T> = T extends (...args: never[]) => infer R ? Awaited<R> : never;

/**
 * The context of the running task: its AbortSignal, driver and queue. Call it
 * synchronously at the start of the task (before the first await) and keep it.
 */
export function taskContext(): TaskContext {
  const c = registry().current;
  if (!c) throw new Error('taskContext(): call it synchronously at the start of a task running on a gatio driver');
  return c;
}
