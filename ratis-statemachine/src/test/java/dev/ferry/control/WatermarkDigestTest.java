package dev.ferry.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.ferry.proto.control.Watermark;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * The watermark definition both sites must share. Expected digests computed independently:
 * {@code sha256(b''.join(struct.pack('>qqiI', n, offset, length, crc) for ...))} in Python.
 */
class WatermarkDigestTest {
  private static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  @Test
  void knownAnswer() {
    WatermarkDigest d = new WatermarkDigest();
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
    WatermarkDigest d = new WatermarkDigest();
    assertThat(d.count()).isZero();
    assertThat(d.bytes()).isZero();
    assertThat(d.lastN()).isZero();
    assertThat(hex(d.digest()))
        .isEqualTo("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  }

  @Test
  void nMustAscendAndARefusedUpdateChangesNothing() {
    WatermarkDigest d = new WatermarkDigest();
    d.add(3, 0, 10, 7);
    byte[] before = d.digest();

    assertThatThrownBy(() -> d.add(3, 0, 10, 7)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ascending n");
    assertThatThrownBy(() -> d.add(2, 0, 10, 7)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new WatermarkDigest().add(0, 0, 1, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not positive");
    assertThatThrownBy(() -> d.add(4, 0, -1, 7)).isInstanceOf(IllegalArgumentException.class);

    assertThat(d.digest()).isEqualTo(before);
    assertThat(d.count()).isEqualTo(1);
    assertThat(d.lastN()).isEqualTo(3);
  }

  @Test
  void aWatermarkNamesItsPortionAndCarriesWhatWasAdded() {
    WatermarkDigest d = new WatermarkDigest();
    d.add(1, 4096, 512, 0x12345678);
    Watermark w = d.toWatermark(new Portion("v1", 3));
    assertThat(w.getVolume()).isEqualTo("v1");
    assertThat(w.getRegion()).isEqualTo(3);
    assertThat(w.getCount()).isEqualTo(1);
    assertThat(w.getBytes()).isEqualTo(512);
    assertThat(w.getLastN()).isEqualTo(1);
    assertThat(hex(w.getDigest().toByteArray()))
        .isEqualTo("552715c9e91d9215754509fa2fdf244eb3adb7d9e61e0ab8109b5694b8f4857f");
  }

  @Test
  void combiningTwoReportsAddsCountsKeepsTheHigherNAndDigestsBothDigestsInOrder() {
    Watermark a = Watermark.newBuilder().setVolume("v").setRegion(2).setCount(2).setBytes(10)
        .setLastN(4).setDigest(ByteString.copyFrom(new byte[] {1, 2})).build();
    Watermark b = Watermark.newBuilder().setVolume("v").setRegion(2).setCount(1).setBytes(7)
        .setLastN(9).setDigest(ByteString.copyFrom(new byte[] {3})).build();
    Watermark c = WatermarkDigest.combine(a, b);
    assertThat(c.getCount()).isEqualTo(3);
    assertThat(c.getBytes()).isEqualTo(17);
    assertThat(c.getLastN()).isEqualTo(9);
    // python3: hashlib.sha256(bytes([1, 2, 3])).hexdigest()
    assertThat(hex(c.getDigest().toByteArray()))
        .isEqualTo("039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81");
    assertThat(WatermarkDigest.combine(b, a).getDigest()).isNotEqualTo(c.getDigest());
  }
}
