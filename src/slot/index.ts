// slot: the durable decoding cursor and what it records.
export * from './state.js';
