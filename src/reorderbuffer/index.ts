// reorderbuffer: tuples to values, transactions in commit order, test_decoding's text.
export * from './tuple.js';
export * from './values.js';
export * from './testdecoding.js';
export * from './value-error.js';
export * from './row-bytes.js';
export * from './catalog.js';
export * from './plugin.js';
export * from './logical.js';
export * from './snapbuild.js';
export * from './spill.js';
export * from './wal2json.js';
export * from './jsvalues.js';
export * from './jschanges.js';
export * from './pgoutput.js';
export { PgOutputParser, encodePgOutputMessage, type PgOutputMessage, type TupleColumn } from './pgoutput-parse.js';
export { type RelationColumn } from './pgoutput-proto.js';
export { RowFilter, RowFilterEvalError, RowFilterUnsupportedError, parseNodeTree, type ColumnValue, type NodeValue, type PgNode, type RowFilterContext } from './rowfilter.js';
