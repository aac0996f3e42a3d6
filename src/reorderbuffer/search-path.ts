// A catalog view whose type names are format_type's under a session's search_path: a type whose schema the path
// does not make visible prints qualified (test_decoding under pg_recvlogical's empty search_path: public.mood).
import { DelegatingCatalog, type CatalogPoint, type CatalogView } from './catalog.js';
import type { TypeInfo } from './values.js';
import { quoteIdentifier } from './testdecoding.js';

/** The schemas of a search_path setting, in order ("$user" as `user`); pg_catalog is always searched. */
export function searchPathSchemas(setting: string, user: string): string[] {
  const out: string[] = [];
  for (const raw of setting.split(',')) {
    const t = raw.trim();
    if (t === '') continue;
    const name = t.startsWith('"') && t.endsWith('"') && t.length >= 2 ? t.slice(1, -1).replace(/""/g, '"') : t.toLowerCase();
    out.push(name === '$user' ? user : name);
  }
  return out;
}

export class SearchPathCatalog extends DelegatingCatalog {
  private readonly renamed = new WeakMap<TypeInfo, TypeInfo>();
  private readonly visible: Set<string>;

  constructor(
    inner: CatalogView,
    schemas: string[],
    private readonly major: number,
  ) {
    super(inner);
    this.visible = new Set(['pg_catalog', ...schemas]);
  }

  // see format_type_extended (format_type.c): an array is its element's name with [], any other type not
  // visible (TypeIsVisible) is qualified with its schema.
  override type(oid: number, at: CatalogPoint): TypeInfo | undefined {
    const t = this.inner.type(oid, at);
    if (t === undefined || t.namespace === undefined || t.typname === undefined || t.namespace === 'pg_catalog') return t;
    const known = this.renamed.get(t);
    if (known !== undefined) return known;
    let name = t.name;
    if (t.name.endsWith('[]') && t.elem !== 0) {
      const e = this.type(t.elem, at);
      if (e !== undefined) name = `${e.name}[]`;
    } else if (!this.visible.has(t.namespace)) {
      name = `${quoteIdentifier(t.namespace, this.major)}.${quoteIdentifier(t.typname, this.major)}`;
    } else {
      name = quoteIdentifier(t.typname, this.major);
    }
    const out = name === t.name ? t : { ...t, name };
    this.renamed.set(t, out);
    return out;
  }
}
