package dev.ferry.control.ratis;

import static dev.ferry.control.Cmds.accept;
import static dev.ferry.control.Cmds.activeCluster;
import static dev.ferry.control.Cmds.closeEpoch;
import static dev.ferry.control.Cmds.epochApplied;
import static dev.ferry.control.Cmds.commitEpoch;
import static dev.ferry.control.Cmds.createVolume;
import static dev.ferry.control.Cmds.drain;
import static dev.ferry.control.Cmds.epochStaged;
import static dev.ferry.control.Cmds.markFailed;
import static dev.ferry.control.Cmds.register;
import static dev.ferry.control.Cmds.remove;
import static dev.ferry.control.Cmds.setCtsPeriod;
import static dev.ferry.control.Cmds.watermark;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ferry.control.ClusterState;
import dev.ferry.control.ClusterStateCodec;
import dev.ferry.control.Portion;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotFileTest {
  private static final long TERM = 7;
  private static final long INDEX = 12_345;

  @TempDir Path dir;

  /**
   * Members JOINING, ACTIVE, FAILED and REMOVED; two volumes; a consistent epoch; one epoch
   * committed but not applied at its secondary and one half staged; a cluster-wide epoch period.
   */
  private static ClusterState richState() {
    ClusterState s = activeCluster(4);
    s = accept(s, createVolume("alpha", 10L << 20, 1 << 20, "dr.example:9000"));
    s = accept(s, createVolume("beta", (3L << 20) - 5, 1 << 20));
    s = accept(s, register("late"));
    s = accept(s, closeEpoch(1, 1_700_000_000_000L, List.of(watermark("beta", 2, 9))));
    s = accept(s, epochStaged(1, List.of(new Portion("beta", 2))));
    s = accept(s, commitEpoch(1));
    s = accept(s, epochApplied(1, "dr.example:9000")); // every secondary applies every epoch
    s = accept(s, closeEpoch(2, 1_700_000_001_000L, List.of(watermark("alpha", 3, 4))));
    s = accept(s, epochStaged(2, List.of(new Portion("alpha", 3))));
    s = accept(s, commitEpoch(2));
    s = accept(s, closeEpoch(3, 1_700_000_002_000L,
        List.of(watermark("alpha", 0, 4), watermark("alpha", 9, 2), watermark("beta", 1, 1))));
    s = accept(s, epochStaged(3, List.of(new Portion("alpha", 9))));
    s = accept(s, markFailed("n2"));
    s = accept(s, drain("n4"));
    s = accept(s, dev.ferry.control.Cmds.activate(s, java.util.List.of())); // the next epoch end moves its portions
    s = accept(s, remove("n4"));
    s = accept(s, setCtsPeriod(100));
    assertThat(s.consistentEpoch()).isEqualTo(1);
    assertThat(s.ctsPeriodMillis()).isEqualTo(100);
    assertThat(s.epochs()).containsOnlyKeys(2L, 3L);
    return s;
  }

  private static byte[] protoBytes(ClusterState s) {
    return ClusterStateCodec.toProto(s).toByteArray();
  }

  private Path written(ClusterState s) throws IOException {
    Path file = dir.resolve("snapshot.7_12345");
    SnapshotFile.write(file, SnapshotFile.encode(TERM, INDEX, s));
    return file;
  }

  private static void assertCorrupt(Path file, String detail) {
    assertThatThrownBy(() -> SnapshotFile.read(file))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("corrupt snapshot")
        .hasMessageContaining(file.toString())
        .hasMessageContaining(detail);
  }

  @Test
  void writeThenReadGivesTheSameStateTermAndIndex() throws IOException {
    ClusterState s = richState();
    Path file = written(s);

    SnapshotFile.Contents c = SnapshotFile.read(file);
    assertThat(c.term()).isEqualTo(TERM);
    assertThat(c.index()).isEqualTo(INDEX);
    assertThat(c.state()).isEqualTo(s);
    assertThat(protoBytes(c.state())).isEqualTo(protoBytes(s));
    assertThat(Files.readAllBytes(file)).isEqualTo(SnapshotFile.encode(TERM, INDEX, s));
    assertThat(dir.resolve("snapshot.7_12345.tmp")).doesNotExist();
  }

  @Test
  void theEmptyStateRoundTrips() throws IOException {
    SnapshotFile.Contents c = SnapshotFile.read(written(ClusterState.EMPTY));
    assertThat(c.state()).isEqualTo(ClusterState.EMPTY);
  }

  @Test
  void writeReplacesAnExistingFile() throws IOException {
    Path file = written(richState());
    SnapshotFile.write(file, SnapshotFile.encode(1, 2, ClusterState.EMPTY));
    SnapshotFile.Contents c = SnapshotFile.read(file);
    assertThat(c.term()).isEqualTo(1);
    assertThat(c.index()).isEqualTo(2);
    assertThat(c.state()).isEqualTo(ClusterState.EMPTY);
  }

  @Test
  void aFlippedBitInThePayloadIsCorrupt() throws IOException {
    Path file = written(richState());
    byte[] bytes = Files.readAllBytes(file);
    assertThat(bytes.length).isGreaterThan(SnapshotFile.HEADER_BYTES + 20);
    bytes[SnapshotFile.HEADER_BYTES + 20] ^= 0x10;
    Files.write(file, bytes);
    assertCorrupt(file, "CRC32C");
  }

  @Test
  void aFlippedBitInTheHeadersRaftIndexIsCorrupt() throws IOException {
    Path file = written(richState());
    byte[] bytes = Files.readAllBytes(file);
    bytes[16 + 7] ^= 0x01; // lowest byte of the Raft index
    Files.write(file, bytes);
    assertCorrupt(file, "CRC32C");
  }

  @Test
  void aFlippedBitInTheLastPayloadByteIsCorrupt() throws IOException {
    Path file = written(richState());
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length - 1] ^= 0x01;
    Files.write(file, bytes);
    assertCorrupt(file, "CRC32C");
  }

  @Test
  void aTruncatedPayloadIsCorrupt() throws IOException {
    Path file = written(richState());
    byte[] bytes = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(bytes, bytes.length - 1));
    assertCorrupt(file, "payload length");
  }

  @Test
  void aTruncatedHeaderIsCorrupt() throws IOException {
    Path file = written(richState());
    byte[] bytes = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(bytes, SnapshotFile.HEADER_BYTES - 1));
    assertCorrupt(file, "header");
    Files.write(file, new byte[0]);
    assertCorrupt(file, "header");
  }

  @Test
  void trailingBytesAreCorrupt() throws IOException {
    Path file = written(richState());
    byte[] bytes = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(bytes, bytes.length + 1));
    assertCorrupt(file, "payload length");
  }

  @Test
  void aBadMagicIsCorrupt() throws IOException {
    Path file = written(richState());
    byte[] bytes = Files.readAllBytes(file);
    bytes[0] = 'X';
    Files.write(file, bytes);
    assertCorrupt(file, "bad magic");
  }

  @Test
  void aBadVersionIsCorrupt() throws IOException {
    Path file = written(richState());
    byte[] bytes = Files.readAllBytes(file);
    ByteBuffer.wrap(bytes).putInt(4, SnapshotFile.VERSION + 1);
    Files.write(file, bytes);
    assertCorrupt(file, "version " + (SnapshotFile.VERSION + 1));
  }

  @Test
  void aPayloadWithAValidChecksumThatDoesNotDecodeIsCorrupt() throws IOException {
    byte[] payload = {(byte) 0xff, (byte) 0xff, (byte) 0xff}; // a truncated varint tag
    ByteBuffer b = ByteBuffer.allocate(SnapshotFile.HEADER_BYTES + payload.length);
    b.putInt(SnapshotFile.MAGIC).putInt(SnapshotFile.VERSION).putLong(TERM).putLong(INDEX)
        .putInt(payload.length).putInt(0).put(payload);
    CRC32C crc = new CRC32C(); // the checksum covers the header's first 28 bytes and the payload
    crc.update(b.array(), 0, 28);
    crc.update(payload);
    b.putInt(28, (int) crc.getValue());
    Path file = dir.resolve("garbage");
    Files.write(file, b.array());
    assertCorrupt(file, "does not decode");
  }

  @Test
  void aMissingFileIsAnIoException() {
    assertThatThrownBy(() -> SnapshotFile.read(dir.resolve("absent")))
        .isInstanceOf(IOException.class);
  }
}
