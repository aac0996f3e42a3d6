// xlogreader: WAL pages in, validated records out; descriptions as pg_waldump / pg_walinspect print them.
export * from './reader.js';
export * from './record.js';
export * from './profile.js';
export * from './source.js';
export * from './fpi.js';
export * from './describe.js';
export * from './stats.js';
export * from './rmgr.js';
export * from './memory.js';
export { formatTimestampBackend, formatTimestampFrontend, walinspectContext, waldumpContext } from './timestamp.js';
export type { DescribeContext, RmgrDescriptor } from './rmgrdesc/types.js';
export * from './rmgrdesc/heap.js';
export * from './rmgrdesc/xact.js';
export * from './rmgrdesc/standby.js';
export * from './rmgrdesc/xlog.js';
export * from './rmgrdesc/logicalmsg.js';
