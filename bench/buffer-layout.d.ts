// The little of buffer-layout (no types of its own) that bench/primitives.ts uses.
declare module 'buffer-layout' {
  export interface Layout {
    span: number;
    property?: string;
    decode(b: Buffer, offset?: number): unknown;
  }
  export function struct(fields: Layout[], property?: string): Layout;
  export function u8(property?: string): Layout;
  export function u16(property?: string): Layout;
  export function u32(property?: string): Layout;
  export function nu64(property?: string): Layout;
}
