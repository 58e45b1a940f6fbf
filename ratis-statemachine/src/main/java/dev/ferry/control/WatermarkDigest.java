package dev.ferry.control;

import com.google.protobuf.ByteString;
import dev.ferry.proto.control.Watermark;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The watermark of one portion's updates of one epoch: what the owner reports at Freeze, what
 * CloseEpoch records, and what the secondary checks a staged portion against. Both sites
 * compute it here, beside the replicated state that carries it. Updates are added in ascending
 * n:
 *
 * <ul>
 *   <li>count: the number of updates;
 *   <li>bytes: the sum of their data lengths;
 *   <li>lastN: the highest n, 0 if none;
 *   <li>digest: SHA-256 over, per update in ascending n, 24 bytes big-endian: n (8), offset (8),
 *       data length (4), crc32c of the data (4). The data itself is covered by its crc32c. With no
 *       update it is the SHA-256 of nothing.
 * </ul>
 *
 * <p>Not thread-safe: one thread at a time adds to it.
 */
public final class WatermarkDigest {
  private static final int ENTRY_BYTES = 8 + 8 + 4 + 4;

  private final MessageDigest sha256 = newSha256();
  private final ByteBuffer entry = ByteBuffer.allocate(ENTRY_BYTES);
  private long count;
  private long bytes;
  private long lastN;

  public WatermarkDigest() {}

  /**
   * Adds the next update.
   *
   * @throws IllegalArgumentException if n is not above the previous n (or not positive for the
   *     first), or length is negative; nothing is added then
   */
  public void add(long n, long offset, int length, int crc32c) {
    if (n <= lastN) {
      throw new IllegalArgumentException(count == 0
          ? "n " + n + " is not positive"
          : "n " + n + " is not above the previous n " + lastN
              + ": updates must come in ascending n");
    }
    if (length < 0) {
      throw new IllegalArgumentException("data length " + length + " of n " + n + " is negative");
    }
    entry.clear();
    entry.putLong(n).putLong(offset).putInt(length).putInt(crc32c).flip();
    sha256.update(entry);
    count++;
    bytes += length;
    lastN = n;
  }

  public long count() {
    return count;
  }

  public long bytes() {
    return bytes;
  }

  public long lastN() {
    return lastN;
  }

  /** The SHA-256 of the updates added so far (32 bytes); adding may continue after it. */
  public byte[] digest() {
    try {
      return ((MessageDigest) sha256.clone()).digest();
    } catch (CloneNotSupportedException e) {
      throw new IllegalStateException("the SHA-256 provider cannot be cloned", e);
    }
  }

  /** The watermark of the updates added so far, for portion {@code p}. */
  public Watermark toWatermark(Portion p) {
    return Watermark.newBuilder().setVolume(p.volume()).setRegion(p.region()).setLastN(lastN)
        .setCount(count).setBytes(bytes).setDigest(ByteString.copyFrom(digest())).build();
  }

  /**
   * Two reports of one portion in one epoch folded into one (the barrier's merge; it happens
   * only when the portion's owner changed within the epoch): counts and bytes add up, lastN is
   * the higher, the digest is the SHA-256 of {@code a}'s digest then {@code b}'s. Volume and
   * region are {@code a}'s.
   */
  public static Watermark combine(Watermark a, Watermark b) {
    MessageDigest sha = newSha256();
    sha.update(a.getDigest().toByteArray());
    sha.update(b.getDigest().toByteArray());
    return a.toBuilder().setCount(a.getCount() + b.getCount()).setBytes(a.getBytes() + b.getBytes())
        .setLastN(Math.max(a.getLastN(), b.getLastN())).setDigest(ByteString.copyFrom(sha.digest()))
        .build();
  }

  private static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }
}
