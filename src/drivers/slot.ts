// gatio's one global per thread. Task modules may load gatio's CommonJS
// build while the driver loaded its ESM build: two module instances in one
// thread. What both must see (the runtime of this thread, the task
// registry, channel handlers, the shared-buffer resolver) lives on this one
// object on globalThis, under a Symbol.for key. Each field is owned and
// typed by the module named beside it; nothing else reads it.
const KEY = Symbol.for('gatio.thread');

export interface ThreadSlot {
  /** shared/thread.ts: the Runtime (main thread) or the JsDriver (a driver thread) */
  runtime?: unknown;
  /** shared/tasks.ts: the task registry */
  tasks?: unknown;
  /** shared/channels.ts: channel handlers by name */
  channels?: unknown;
  /** shared/shared-buffer.ts (set), protocol/codec.ts (read): turns a decoded reference into a SharedBuffer */
  sharedResolver?: unknown;
  /** net/handlers.ts: port handlers by name */
  net?: unknown;
}

export function threadSlot(): ThreadSlot {
  const g = globalThis as { [KEY]?: ThreadSlot };
  return (g[KEY] ??= {});
}
