package dev.ferry.node.data.state;

/** What the watermark of an update numbered here covers (dev.ferry.control.WatermarkDigest). */
public interface Numbered {
  /** Its number in its portion's epoch, from 1. */
  long n();

  /** Where it lands in the volume. */
  long offset();

  /** Its data's length in bytes. */
  int length();

  /** Its data's CRC32C, as the primary sent it. */
  int crc32c();
}
