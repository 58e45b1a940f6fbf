package dev.ferry.node.sim;

import dev.ferry.control.Portion;

/**
 * One primary write: its key (primary, clientSeq), where it lands, and the floor: the highest
 * epoch of any ack the primaries had seen when it was issued. A write issued after an ack may
 * depend on it, so it must be numbered in that ack's epoch or later (DESIGN.md §5).
 */
record SimWrite(String primary, long clientSeq, Portion portion, long offset, int length,
    long floor) {
  String key() {
    return primary + "/" + clientSeq;
  }

  /** The CRC32C a primary would send: any value that is the same for the same key. */
  int crc32c() {
    return key().hashCode();
  }
}
