// timeline: history files and which timeline owns each LSN and segment.
export * from './history.js';
