// Worker file for workerpool.
import workerpool from 'workerpool';
import { add, work1us } from './work.mjs';

workerpool.worker({ add, work1us });
