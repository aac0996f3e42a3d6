// Little-endian reads straight from bytes: no DataView per record on the hot path (V8 inlines these).
export function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

export function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
}

/**
 * A function giving a DataView of a Uint8Array that keeps the last one made: callers that read many values from
 * the same buffer in turn (a reader's pages, a batch) make one view per buffer, not one per call.
 */
export function lastViewCache(): (b: Uint8Array) => DataView {
  let viewed: Uint8Array | undefined;
  let view: DataView | undefined;
  return (b) => {
    if (b !== viewed) {
      viewed = b;
      view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    }
    return view!;
  };
}
