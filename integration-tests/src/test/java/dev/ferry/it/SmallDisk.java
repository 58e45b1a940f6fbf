package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A small tmpfs mounted over a directory (a node's data directory), and the fault of filling
 * it: another file takes every byte left, for a while, then goes (issue 10, case 11). Mounting
 * needs root: without it the calling test is skipped, saying why.
 */
final class SmallDisk implements AutoCloseable {
  private static final String ENOSPC = "No space left on device";
  final Path dir;

  private SmallDisk(Path dir) {
    this.dir = dir;
  }

  /** Mounts a tmpfs of {@code size} (as mount's size= option, e.g. "64m") over {@code dir}. */
  static SmallDisk mount(Path dir, String size) throws Exception {
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
        "mounting a tmpfs needs root");
    Files.createDirectories(dir);
    run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString());
    return new SmallDisk(dir);
  }

  /** The disk full for {@code d} (a filler file takes what is left), then the filler deleted. */
  Nemesis.Fault fullFor(Duration d) {
    return () -> {
      Path filler = dir.resolve("filler");
      long taken = fillUp(filler);
      Nemesis.log(String.format("disk %s full for %d ms: the filler took %,d bytes", dir,
          d.toMillis(), taken));
      Thread.sleep(d.toMillis()); // how long the disk stays full: the fault, not a wait
      Files.delete(filler);
    };
  }

  /** Writes {@code file} until the disk is full, down to its last 4 KiB; the bytes it took. */
  private static long fillUp(Path file) throws IOException {
    byte[] chunk = new byte[1 << 20];
    long written = 0;
    for (int size = chunk.length; size >= 4096; size /= 2) {
      try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND)) {
        while (true) {
          out.write(chunk, 0, size);
          written += size;
        }
      } catch (IOException e) {
        if (e.getMessage() == null || !e.getMessage().contains(ENOSPC)) {
          throw e;
        }
        // full at this size: go on with smaller pieces
      }
    }
    return written;
  }

  /** Unmounts it (lazily: a process that still has files open there keeps them). */
  @Override
  public void close() throws Exception {
    run("umount", "-l", dir.toString());
  }

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("%s finished", String.join(" ", cmd)).isTrue();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as("%s: %s", String.join(" ", cmd), out).isZero();
  }
}
