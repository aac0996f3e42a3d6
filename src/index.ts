// pgwal: the shared pieces (LSNs, WAL file names, errors). Layers live under their own subpaths.
export * from './lsn.js';
export * from './walfile.js';
export * from './errors.js';
