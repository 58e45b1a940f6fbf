package dev.ferry.node.journal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;

/**
 * The disk, injectable so tests can make write/force fail. The journal opens every segment file
 * and the directory (to force new entries) through it.
 */
@FunctionalInterface
public interface Disk {
  Disk REAL = FileChannel::open;

  FileChannel open(Path file, OpenOption... options) throws IOException;
}
