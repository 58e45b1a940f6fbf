package dev.ferry.node.cli;

import dev.ferry.node.config.Units;
import picocli.CommandLine;

/** Parses {@code 4KiB}, {@code 64MiB}, {@code 1GiB} ... for options that take a size. */
final class SizeConverter implements CommandLine.ITypeConverter<Long> {
  @Override
  public Long convert(String value) {
    try {
      return Units.parseSize(value);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.TypeConversionException(e.getMessage());
    }
  }
}
