package dev.ferry.node.journal;

import static dev.ferry.node.journal.Journals.appendAll;
import static dev.ferry.node.journal.Journals.options;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bytes on disk are the ones the table in Journal's class comment describes. */
class JournalFormatTest {
  @TempDir Path dir;

  @Test
  void aSegmentFileIsTheHeaderThenRecordsAtTheDocumentedOffsets() throws IOException {
    JournalRecord r = new JournalRecord(RecordType.MIRROR, 5, "vol", 9, 77, "prim", 1234, 65536,
        "node-3", new byte[] {1, 2, 3});
    try (Journal journal = Journal.open(dir, options(1 << 20, true, Disk.REAL), x -> { })) {
      appendAll(journal, List.of(r));
    }
    Path file = dir.resolve("segment-00000000000000000000.log");
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file));

    assertThat(b.getInt(0)).isEqualTo(0x464A5347); // FJSG
    assertThat(b.getInt(4)).isEqualTo(2);
    b.position(8);
    ByteBuffer rec = b.slice();
    int length = rec.getInt(4);
    assertThat(rec.getInt(0)).isEqualTo(0x464A5243); // FJRC
    assertThat(rec.limit()).isEqualTo(8 + length);
    CRC32C crc = new CRC32C();
    crc.update(rec.duplicate().position(12));
    assertThat(rec.getInt(8)).isEqualTo((int) crc.getValue());
    assertThat(rec.get(12)).isEqualTo((byte) 2);
    assertThat(rec.getLong(13)).isEqualTo(5);
    assertThat(rec.getInt(21)).isEqualTo(9);
    assertThat(rec.getLong(25)).isEqualTo(77);
    assertThat(rec.getLong(33)).isEqualTo(1234);
    assertThat(rec.getLong(41)).isEqualTo(65536);
    assertThat(string(rec, 49)).isEqualTo("vol");
    assertThat(string(rec, 49 + 2 + 3)).isEqualTo("prim");
    assertThat(string(rec, 49 + 2 + 3 + 2 + 4)).isEqualTo("node-3");
    int data = 49 + 2 + 3 + 2 + 4 + 2 + 6;
    assertThat(rec.getInt(data)).isEqualTo(3);
    assertThat(rec.get(data + 4)).isEqualTo((byte) 1);
    assertThat(data + 4 + 3).isEqualTo(rec.limit());
  }

  @Test
  void aVersionOneSegmentIsReadAndAnUnknownVersionIsRefusedByName() throws IOException {
    JournalRecord r = new JournalRecord(RecordType.OWNED, 5, "vol", 9, 77, "prim", 1234, 65536,
        "node-3", new byte[] {1, 2, 3});
    JournalOptions options = options(1 << 20, true, Disk.REAL);
    try (Journal journal = Journal.open(dir, options, x -> { })) {
      appendAll(journal, List.of(r));
    }
    Path file = dir.resolve("segment-00000000000000000000.log");
    setVersion(file, 1); // as written before FORWARD_DROPPED existed
    assertThat(Journals.replay(dir, options)).hasSize(1);

    setVersion(file, 3);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Journals.replay(dir, options))
        .hasMessage("corrupt journal " + file + " at offset 4: unsupported segment format"
            + " version 3");
  }

  private static void setVersion(Path file, int version) throws IOException {
    try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.allocate(4).putInt(version).flip(), 4);
    }
  }

  private static String string(ByteBuffer b, int at) {
    byte[] s = new byte[Short.toUnsignedInt(b.getShort(at))];
    b.get(at + 2, s);
    return new String(s, StandardCharsets.UTF_8);
  }

  @Test
  void recordsAreEqualByTheirDataBytes() {
    JournalRecord a = Journals.owned(1, 1);
    JournalRecord b = new JournalRecord(a.type(), a.epoch(), a.volume(), a.region(), a.n(),
        a.primaryId(), a.clientSeq(), a.offset(), a.peer(), a.data().clone());

    assertThat(b).isEqualTo(a).hasSameHashCodeAs(a);
    assertThat(b.toString()).contains("data=300B");
  }
}
