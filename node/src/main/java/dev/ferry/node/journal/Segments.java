package dev.ferry.node.journal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The journal's segments in append order, the last one active, and which segments hold
 * forwarded copies that have no sequence number yet. Such a copy's epoch is unknown until its
 * SEQUENCED record arrives (possibly in a later segment), so until then it pins its segment;
 * afterwards it counts with the epoch the owner gave it. Confined to one thread at a time:
 * recovery, then the writer.
 */
final class Segments {
  private record ForwardId(String primaryId, long clientSeq) {}

  private final List<Segment> list = new ArrayList<>();
  private final Map<ForwardId, List<Segment>> unsequenced = new HashMap<>();

  void add(Segment s) {
    list.add(s);
  }

  boolean isEmpty() {
    return list.isEmpty();
  }

  Segment active() {
    return list.get(list.size() - 1);
  }

  int count() {
    return list.size();
  }

  long totalBytes() {
    return list.stream().mapToLong(s -> s.bytes).sum();
  }

  /** Counts a record of {@code size} bytes written to (or recovered from) {@code s}. */
  void account(JournalRecord r, Segment s, int size) {
    s.records++;
    s.bytes += size;
    s.raiseEpoch(r.epoch());
    ForwardId id = new ForwardId(r.primaryId(), r.clientSeq());
    if (r.type() == RecordType.FORWARDED) {
      unsequenced.computeIfAbsent(id, k -> new ArrayList<>(1)).add(s);
      s.unsequencedForwards++;
    } else if (r.type() == RecordType.SEQUENCED || r.type() == RecordType.FORWARD_DROPPED) {
      // A retried forward may have been stored more than once: every copy gets the number, or
      // is dropped. A dropped copy pins nothing and counts with no epoch.
      for (Segment held : unsequenced.getOrDefault(id, List.of())) {
        held.unsequencedForwards--;
        held.raiseEpoch(r.epoch());
      }
      unsequenced.remove(id);
    }
  }

  /** Closed segments whose every record belongs to an epoch at or before appliedEpoch. */
  List<Segment> releasable(long appliedEpoch) {
    return list.subList(0, list.size() - 1).stream()
        .filter(s -> s.releasableAt(appliedEpoch)).toList();
  }

  void remove(Segment s) {
    list.remove(s);
  }
}
