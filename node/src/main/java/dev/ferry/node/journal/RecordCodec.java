package dev.ferry.node.journal;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/** Encodes and decodes one record; the layout is documented on {@link Journal}. */
final class RecordCodec {
  static final int MAGIC = 0x464A5243; // "FJRC"
  /** Magic and length: the part of a record not counted by its length field. */
  static final int PREFIX_BYTES = 8;
  static final int CRC_OFFSET = 8;
  /** CRC, fixed fields, three empty strings, empty data. */
  static final int MIN_LENGTH = 4 + 1 + 8 + 4 + 8 + 8 + 8 + 3 * 2 + 4;
  private static final int MAX_STRING_BYTES = 0xFFFF;

  private RecordCodec() {}

  /** The record's bytes, ready to write. */
  static ByteBuffer encode(JournalRecord r) {
    byte[] volume = utf8("volume", r.volume());
    byte[] primaryId = utf8("primaryId", r.primaryId());
    byte[] peer = utf8("peer", r.peer());
    int length = MIN_LENGTH + volume.length + primaryId.length + peer.length + r.data().length;
    ByteBuffer b = ByteBuffer.allocate(PREFIX_BYTES + length);
    b.putInt(MAGIC).putInt(length).putInt(0).put(r.type().code()).putLong(r.epoch())
        .putInt(r.region()).putLong(r.n()).putLong(r.clientSeq()).putLong(r.offset());
    putString(b, volume);
    putString(b, primaryId);
    putString(b, peer);
    b.putInt(r.data().length).put(r.data());
    b.putInt(CRC_OFFSET, checksum(b.array(), 0, b.capacity()));
    return b.flip();
  }

  /** CRC32C of the record at {@code start} (of {@code size} bytes), from after its CRC field. */
  static int checksum(byte[] bytes, int start, int size) {
    CRC32C crc = new CRC32C();
    int from = start + CRC_OFFSET + 4;
    crc.update(bytes, from, start + size - from);
    return (int) crc.getValue();
  }

  /**
   * Decodes the record at {@code start} whose CRC has been verified.
   *
   * @throws IllegalArgumentException if the fields do not fill the record exactly
   */
  static JournalRecord decode(byte[] bytes, int start, int size) {
    ByteBuffer b = ByteBuffer.wrap(bytes, start + CRC_OFFSET + 4, size - CRC_OFFSET - 4);
    try {
      byte code = b.get();
      RecordType type = RecordType.ofCode(code);
      if (type == null) {
        throw new IllegalArgumentException("unknown record type " + code);
      }
      long epoch = b.getLong();
      int region = b.getInt();
      long n = b.getLong();
      long clientSeq = b.getLong();
      long offset = b.getLong();
      String volume = getString(b);
      String primaryId = getString(b);
      String peer = getString(b);
      int dataLength = b.getInt();
      if (dataLength != b.remaining()) {
        throw new IllegalArgumentException("data length " + dataLength + " but "
            + b.remaining() + " bytes remain in the record");
      }
      byte[] data = new byte[dataLength];
      b.get(data);
      return new JournalRecord(type, epoch, volume, region, n, primaryId, clientSeq, offset,
          peer, data);
    } catch (BufferUnderflowException e) {
      throw new IllegalArgumentException("fields run past the record's end");
    }
  }

  private static byte[] utf8(String field, String s) {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    if (bytes.length > MAX_STRING_BYTES) {
      throw new IllegalArgumentException(field + " is " + bytes.length
          + " UTF-8 bytes; the journal stores at most " + MAX_STRING_BYTES);
    }
    return bytes;
  }

  private static void putString(ByteBuffer b, byte[] s) {
    b.putShort((short) s.length).put(s);
  }

  private static String getString(ByteBuffer b) {
    byte[] s = new byte[Short.toUnsignedInt(b.getShort())];
    b.get(s);
    return new String(s, StandardCharsets.UTF_8);
  }
}
