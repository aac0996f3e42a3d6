// Version profiles: what differs between PostgreSQL majors, chosen once from the first long page header.
export type Major = 15 | 16 | 17 | 18;

export interface VersionProfile {
  major: Major;
  /** XLOG_PAGE_MAGIC (xlog_internal.h). */
  pageMagic: number;
}

const PROFILES: readonly VersionProfile[] = [
  { major: 15, pageMagic: 0xd110 },
  { major: 16, pageMagic: 0xd113 },
  { major: 17, pageMagic: 0xd116 },
  { major: 18, pageMagic: 0xd118 },
];

export function profileForMagic(magic: number): VersionProfile | undefined {
  return PROFILES.find((p) => p.pageMagic === magic);
}

export function profileForMajor(major: number): VersionProfile | undefined {
  return PROFILES.find((p) => p.major === major);
}

export const SUPPORTED_MAJORS: readonly Major[] = PROFILES.map((p) => p.major);
