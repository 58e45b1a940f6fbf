package dev.ferry.node.journal;

/**
 * What a journal record is a copy of. Each type has a fixed one-byte code on disk, independent of
 * the declaration order, so reordering this enum cannot change the meaning of old journals.
 */
public enum RecordType {
  /** An update this node sequenced as the portion's owner; peer = the node holding its mirror. */
  OWNED(1),
  /** A copy held for another owner, with the owner's (epoch, n); peer = the owner that sent it. */
  MIRROR(2),
  /** A copy stored before forwarding it to the owner; epoch and n are 0; peer = the owner. */
  FORWARDED(3),
  /**
   * The (epoch, n) the owner gave a FORWARDED copy, identified by (primaryId, clientSeq); data is
   * empty.
   */
  SEQUENCED(4),
  /**
   * A FORWARDED copy, identified by (primaryId, clientSeq), that this node no longer holds: its
   * forward failed before a number came back, so it was never acknowledged and a retry stores
   * the write again. Epoch and n are 0; data is empty. Written from segment format version 2 on.
   */
  FORWARD_DROPPED(5);

  private final byte code;

  RecordType(int code) {
    this.code = (byte) code;
  }

  byte code() {
    return code;
  }

  /** The type with this on-disk code, or null if there is none. */
  static RecordType ofCode(byte code) {
    for (RecordType t : values()) {
      if (t.code == code) {
        return t;
      }
    }
    return null;
  }
}
