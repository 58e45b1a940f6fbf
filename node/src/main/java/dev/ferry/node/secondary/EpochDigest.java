package dev.ferry.node.secondary;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The summary of one portion's updates in one epoch, computed alike at the primary site (for
 * the watermark in CloseEpoch) and at the secondary (to check what it staged): count, bytes,
 * highest n, and SHA-256 over, per update in ascending n: n (8 bytes big-endian), offset (8),
 * data length (4), crc32c (4). Not thread-safe.
 */
public final class EpochDigest {
  private final MessageDigest sha;
  private final ByteBuffer entry = ByteBuffer.allocate(24);
  private long count;
  private long bytes;
  private long lastN;

  public EpochDigest() {
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java runtime", e);
    }
  }

  /** Adds the next update; n must be larger than every n added before. */
  public void add(long n, long offset, int length, int crc32c) {
    if (count > 0 && n <= lastN) {
      throw new IllegalArgumentException("update n=" + n + " after n=" + lastN + ": not ascending");
    }
    entry.clear();
    entry.putLong(n).putLong(offset).putInt(length).putInt(crc32c);
    sha.update(entry.array());
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

  /** The SHA-256 so far (the digest object is copied, so more updates may follow). */
  public byte[] digest() {
    try {
      return ((MessageDigest) sha.clone()).digest();
    } catch (CloneNotSupportedException e) {
      throw new IllegalStateException(e);
    }
  }
}
