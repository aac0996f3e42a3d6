// The cut a folder or archive read makes at a timeline's switch point (internal to the node sources).
import type { Lsn } from '../lsn.js';
import { switchPointInSegment, switchPointMessage, type TimelineHistory } from '../timeline/history.js';
import type { SourceBytes, SourceMiss } from '../xlogreader/source.js';

/**
 * What a source read of a timeline's segment may hand over: nothing past the point where the history says that
 * timeline ended (the switch point); wanting bytes past it is a miss naming it (the reader's `timeline-end`).
 */
export function clipAtSwitchPoint(got: SourceBytes | SourceMiss, pagePtr: Lsn, minLength: number, history: TimelineHistory | undefined, segmentSize: number): SourceBytes | SourceMiss {
  if ('missing' in got || history === undefined) return got;
  const cut = switchPointInSegment(got.tli, Math.floor(pagePtr / segmentSize), history, segmentSize);
  if (cut === undefined) return got;
  if (pagePtr + Math.min(minLength, 8192) > cut.switchPoint) {
    return { missing: switchPointMessage(got.tli, cut.switchPoint, cut.nextTli, segmentSize), switchPoint: cut.switchPoint };
  }
  const keep = cut.switchPoint - got.start;
  return keep >= got.bytes.length ? got : { ...got, bytes: got.bytes.subarray(0, keep) };
}

