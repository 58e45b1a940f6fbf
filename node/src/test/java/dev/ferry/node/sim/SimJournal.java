package dev.ferry.node.sim;

import java.util.ArrayList;
import java.util.List;

/**
 * What a simulated node has on disk and keeps across a crash: its OWNED records once durable (a
 * record not yet durable when the process dies is lost), and the Raft index it had applied.
 */
final class SimJournal {
  /** One durable OWNED record: the write and its number. */
  record Owned(SimWrite write, long epoch, long n) {}

  final List<Owned> owned = new ArrayList<>();
  int raftIndex;
}
