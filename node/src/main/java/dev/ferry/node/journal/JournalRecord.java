package dev.ferry.node.journal;

import java.util.Arrays;
import java.util.Objects;

/**
 * What one journal record says. Immutable. {@code data} is not copied: callers must not mutate
 * it. Equality compares the data bytes, so two records read back from disk compare equal to the
 * ones appended.
 *
 * @param peer the mirror node (OWNED) or the owner (MIRROR, FORWARDED); may be empty
 */
public record JournalRecord(RecordType type, long epoch, String volume, int region, long n,
    String primaryId, long clientSeq, long offset, String peer, byte[] data) {

  public JournalRecord {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(volume, "volume");
    Objects.requireNonNull(primaryId, "primaryId");
    Objects.requireNonNull(peer, "peer");
    Objects.requireNonNull(data, "data");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof JournalRecord r && type == r.type && epoch == r.epoch
        && region == r.region && n == r.n && clientSeq == r.clientSeq && offset == r.offset
        && volume.equals(r.volume) && primaryId.equals(r.primaryId) && peer.equals(r.peer)
        && Arrays.equals(data, r.data);
  }

  @Override
  public int hashCode() {
    return Objects.hash(type, epoch, volume, region, n, primaryId, clientSeq, offset, peer,
        Arrays.hashCode(data));
  }

  /** Shows the data's length, not its bytes: records end up in logs. */
  @Override
  public String toString() {
    return "JournalRecord[" + type + " epoch=" + epoch + " " + volume + "/" + region + " n=" + n
        + " primary=" + primaryId + "#" + clientSeq + " offset=" + offset + " peer=" + peer
        + " data=" + data.length + "B]";
  }
}
