// reorderbuffer: tuples to values, transactions in commit order, test_decoding's text.
export * from './tuple.js';
export * from './values.js';
export * from './testdecoding.js';
export * from './catalog.js';
export * from './plugin.js';
export * from './decoder.js';
export * from './snapbuild.js';
