// The historic catalog: catalog pages rebuilt from a starting snapshot and WAL redo, read as of each change.
export { HistoricCatalog, parseRelmapFile, CATALOG_RELATIONS, PG_CLASS, PG_ATTRIBUTE, PG_TYPE, PG_NAMESPACE, PG_ENUM, PG_RANGE, PG_INDEX, PG_ATTRDEF, PG_PUBLICATION, PG_PUBLICATION_REL, PG_PUBLICATION_NAMESPACE, PG_INHERITS, PUBLICATION_CATALOGS, type CatalogSnapshot, type DdlEvent, type DdlColumn } from './historic.js';
export { CatalogPages } from './redo.js';
export { parsePage, rawPageLsn, type Page, type Item } from './page.js';
export { CatalogError } from './errors.js';
export { catalogSnapshotToJson, catalogSnapshotFromJson, type CatalogSnapshotJson } from './snapshot-json.js';
