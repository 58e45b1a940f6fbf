package dev.ferry.node.secondary;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * The watermark definition both sites must share. Expected digests computed independently:
 * {@code sha256(b''.join(struct.pack('>qqiI', n, offset, length, crc) for ...))} in Python.
 */
class EpochDigestTest {
  private static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  @Test
  void knownAnswer() {
    EpochDigest d = new EpochDigest();
    d.add(1, 4096, 512, 0x12345678);
    assertThat(hex(d.digest()))
        .isEqualTo("552715c9e91d9215754509fa2fdf244eb3adb7d9e61e0ab8109b5694b8f4857f");
    d.add(2, 0, 4096, 0xCAFEBABE);
    d.add(5, 1L << 40, 1, 0);

    assertThat(d.count()).isEqualTo(3);
    assertThat(d.bytes()).isEqualTo(512 + 4096 + 1);
    assertThat(d.lastN()).isEqualTo(5);
    assertThat(hex(d.digest()))
        .isEqualTo("d70ad70a701d633c4825620bbd194a254750e0d1007d32860efb04d3e7cad07f");
  }

  @Test
  void noUpdates() {
    EpochDigest d = new EpochDigest();
    assertThat(d.count()).isZero();
    assertThat(d.bytes()).isZero();
    assertThat(d.lastN()).isZero();
    assertThat(hex(d.digest()))
        .isEqualTo("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  }

  @Test
  void nMustAscendAndARefusedUpdateChangesNothing() {
    EpochDigest d = new EpochDigest();
    d.add(3, 0, 10, 7);
    byte[] before = d.digest();

    assertThatThrownBy(() -> d.add(3, 0, 10, 7)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ascending n");
    assertThatThrownBy(() -> d.add(2, 0, 10, 7)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new EpochDigest().add(0, 0, 1, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not positive");
    assertThatThrownBy(() -> d.add(4, 0, -1, 7)).isInstanceOf(IllegalArgumentException.class);

    assertThat(d.digest()).isEqualTo(before);
    assertThat(d.count()).isEqualTo(1);
    assertThat(d.lastN()).isEqualTo(3);
  }
}
