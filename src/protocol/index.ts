// The frontend/backend protocol as message codecs over bytes: no sockets, no node:.
export * from './errors.js';
export * from './framer.js';
export * from './backend.js';
export * from './frontend.js';
export * from './parser.js';
export * from './replication.js';
export * from './scram.js';
export * from './conninfo.js';
export * from './replication-command.js';
