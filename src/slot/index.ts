// slot: the durable decoding cursor, its rules and its safety checks.
export * from './state.js';
export * from './errors.js';
export * from './slot.js';
export * from './guard.js';
export * from './export.js';
