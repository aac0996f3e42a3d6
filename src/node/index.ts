// Node-only edges: WAL from files and folders.
export * from './wal.js';
export * from './directory.js';
export * from './restore.js';
export * from './slot.js';
export * from './catalog.js';
export * from './spill.js';
export * from './catalog-snapshot.js';
export * from './transactions.js';
export * from './consumer.js';
export * from './orphans.js';
export * from './replication.js';
export * from './walreceiver.js';
export * from './receivewal.js';
export * from './walsender.js';
export * from './stream-wal.js';
