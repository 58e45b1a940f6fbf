package dev.ferry.node.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class UnitsTest {
  @Test
  void parsesBinaryAndDecimalSizes() {
    assertThat(Units.parseSize("4096")).isEqualTo(4096);
    assertThat(Units.parseSize("4KiB")).isEqualTo(4096);
    assertThat(Units.parseSize("64mib")).isEqualTo(64L << 20);
    assertThat(Units.parseSize("1GiB")).isEqualTo(1L << 30);
    assertThat(Units.parseSize("2T")).isEqualTo(2L << 40);
    assertThat(Units.parseSize("1MB")).isEqualTo(1_000_000);
    assertThat(Units.parseSize(" 12 KB ")).isEqualTo(12_000);
    assertThat(Units.parseSize("-4GiB")).isEqualTo(-(4L << 30));
  }

  @Test
  void rejectsMalformedSizesNamingTheText() {
    assertThatThrownBy(() -> Units.parseSize("12XB")).hasMessageContaining("'12XB' is not a size");
    assertThatThrownBy(() -> Units.parseSize("1.5GiB")).hasMessageContaining("is not a size");
    assertThatThrownBy(() -> Units.parseSize("")).hasMessageContaining("is not a size");
    assertThatThrownBy(() -> Units.parseSize("99999999TiB")).hasMessageContaining("too large");
  }

  @Test
  void parsesDurations() {
    assertThat(Units.parseDuration("250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(Units.parseDuration("2s")).isEqualTo(Duration.ofSeconds(2));
    assertThat(Units.parseDuration("5min")).isEqualTo(Duration.ofMinutes(5));
    assertThat(Units.parseDuration("1h")).isEqualTo(Duration.ofHours(1));
    assertThat(Units.parseDuration("10us")).isEqualTo(Duration.ofNanos(10_000));
  }

  @Test
  void rejectsBadDurations() {
    assertThatThrownBy(() -> Units.parseDuration("250")).hasMessageContaining("'250' is not a duration");
    assertThatThrownBy(() -> Units.parseDuration("-1s")).hasMessageContaining("must not be negative");
  }

  @Test
  void formatsSizesInTheLargestExactUnit() {
    assertThat(Units.formatSize(4096)).isEqualTo("4KiB");
    assertThat(Units.formatSize(1L << 30)).isEqualTo("1GiB");
    assertThat(Units.formatSize(1000)).isEqualTo("1000B");
    assertThat(Units.formatSize(0)).isEqualTo("0B");
  }
}
