package dev.ferry.node.config;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses and prints sizes ({@code 64MiB}, {@code 4KiB}, {@code 1GB}) and durations ({@code 250ms}). */
public final class Units {
  private static final Pattern SIZE =
      Pattern.compile("\\s*(-?\\d+)\\s*(B|KB|KIB|MB|MIB|GB|GIB|TB|TIB|K|M|G|T)?\\s*");
  private static final Pattern DURATION =
      Pattern.compile("\\s*(-?\\d+)\\s*(NS|US|MS|S|M|MIN|H)\\s*");

  private Units() {}

  /**
   * Parses a size: a whole number with an optional unit (B, KiB, MiB, GiB, TiB in powers of 1024;
   * KB, MB, GB, TB in powers of 1000; K, M, G, T are binary). Case-insensitive. Negative numbers
   * parse, so a caller can reject them with its own message.
   *
   * @throws IllegalArgumentException naming the text when it is not a size
   */
  public static long parseSize(String text) {
    Matcher m = SIZE.matcher(text.toUpperCase(Locale.ROOT));
    if (!m.matches()) {
      throw new IllegalArgumentException("'" + text
          + "' is not a size: use a whole number with an optional unit, e.g. 4096, 4KiB, 64MiB, 1GiB");
    }
    long value = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "B" : m.group(2);
    long factor = switch (unit) {
      case "B" -> 1L;
      case "KB" -> 1_000L;
      case "MB" -> 1_000_000L;
      case "GB" -> 1_000_000_000L;
      case "TB" -> 1_000_000_000_000L;
      case "K", "KIB" -> 1L << 10;
      case "M", "MIB" -> 1L << 20;
      case "G", "GIB" -> 1L << 30;
      case "T", "TIB" -> 1L << 40;
      default -> throw new IllegalArgumentException("unknown size unit in '" + text + "'");
    };
    try {
      return Math.multiplyExact(value, factor);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("size '" + text + "' is too large");
    }
  }

  /**
   * Parses a duration: a whole number and a unit: ns, us, ms, s, m or min, h.
   *
   * @throws IllegalArgumentException naming the text when it is not a duration or is negative
   */
  public static Duration parseDuration(String text) {
    Matcher m = DURATION.matcher(text.toUpperCase(Locale.ROOT));
    if (!m.matches()) {
      throw new IllegalArgumentException("'" + text
          + "' is not a duration: use a whole number and a unit, e.g. 250ms, 2s, 5m");
    }
    long value = Long.parseLong(m.group(1));
    if (value < 0) {
      throw new IllegalArgumentException("duration '" + text + "' must not be negative");
    }
    return switch (m.group(2)) {
      case "NS" -> Duration.ofNanos(value);
      case "US" -> Duration.ofNanos(value * 1000);
      case "MS" -> Duration.ofMillis(value);
      case "S" -> Duration.ofSeconds(value);
      case "M", "MIN" -> Duration.ofMinutes(value);
      case "H" -> Duration.ofHours(value);
      default -> throw new IllegalArgumentException("unknown duration unit in '" + text + "'");
    };
  }

  /** Prints a byte count in the largest binary unit that divides it exactly (4096 → 4KiB). */
  public static String formatSize(long bytes) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    long v = bytes;
    while (u < units.length - 1 && v != 0 && v % 1024 == 0) {
      v /= 1024;
      u++;
    }
    return v + units[u];
  }
}
