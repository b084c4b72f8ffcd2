// Worker file for piscina and tinypool: a task gets one argument, so the
// argument list travels as an array and is spread here.
import { add as addFn, work1us as work1usFn } from './work.mjs';

export const add = (args) => addFn(...args);
export const work1us = (args) => work1usFn(...args);
