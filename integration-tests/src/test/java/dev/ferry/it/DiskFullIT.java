package dev.ferry.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A full disk on a node (issue 10, case 11): n3's data directory (its Raft storage and its
 * journal) is a 64 MiB tmpfs; while a primary writes, another file takes every byte left on
 * it for a few seconds, then goes. The node must refuse what it cannot store (RESOURCE_EXHAUSTED
 * naming the disk, which the primary retries), stay up, store the retried writes once there is
 * space, so that the primary sees no final error and acks resume at once; and nothing
 * acknowledged may be lost ({@link Nemesis}'s checks).
 * Needs root to mount the tmpfs (CI runs as root; elsewhere the class is skipped, saying why).
 */
class DiskFullIT extends WithNemesis {
  private static final String VICTIM = "n3";
  private static final Duration FULL_FOR = Duration.ofSeconds(5);
  private static final Duration MAX_ACK_GAP = Duration.ofSeconds(25);

  private Path mount;

  @Override
  protected String name() {
    return "diskfull";
  }

  @Override
  protected int basePort() {
    return 22200;
  }

  @Override
  protected String[] volumes() {
    return new String[] {"d1v", "d2v"};
  }

  @Override
  protected void prepare(Path dir) throws Exception {
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
        "mounting a tmpfs needs root");
    mount = dir.resolve(VICTIM).resolve("data"); // the node's node.dir (cluster up)
    Files.createDirectories(mount);
    run("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mount.toString());
  }

  @Override
  protected void cleanUp(Path dir) throws Exception {
    if (mount != null) {
      run("umount", "-l", mount.toString());
    }
  }

  @Test
  void aFullDiskRefusesWritesKeepsTheNodeUpAndLosesNothing() throws Exception {
    long pid = FerryCli.nodes(dir).get(VICTIM).get("pid").getAsLong();
    Nemesis.Fault fill = () -> {
      Path filler = mount.resolve("filler");
      long taken = fillUp(filler);
      System.out.printf("disk of %s full: the filler took %,d bytes%n", VICTIM, taken);
      Thread.sleep(FULL_FOR.toMillis()); // how long the disk stays full: the fault, not a wait
      Files.delete(filler);
    };
    // no final error: the disk is full for less than the primary retries a refused write
    nemesis.run("disk full", List.of(fill, fill), () -> { });
    assertThat(nemesis.longestAckGapMillis).isLessThan(MAX_ACK_GAP.toMillis());
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive))
        .as("%s (pid %d) still running: a full disk is not a crash", VICTIM, pid).contains(true);
    String log = Files.readString(dir.resolve(VICTIM).resolve("node.log"),
        StandardCharsets.ISO_8859_1);
    assertThat(log).as("the fault reached the journal, and the journal recovered")
        .contains("journal disk full:").contains("writing again after the disk was full");
  }

  /** Writes {@code file} until the disk is full; the bytes it took. */
  private static long fillUp(Path file) throws IOException {
    byte[] chunk = new byte[1 << 20];
    long written = 0;
    try (OutputStream out = Files.newOutputStream(file)) {
      while (true) {
        out.write(chunk);
        written += chunk.length;
      }
    } catch (IOException e) {
      if (e.getMessage() == null || !e.getMessage().contains("No space left on device")) {
        throw e;
      }
    }
    // the last partial chunk: what a 1 MiB write could not take
    for (int size = 1 << 19; size >= 4096; size /= 2) {
      try (OutputStream out = Files.newOutputStream(file, java.nio.file.StandardOpenOption.APPEND)) {
        out.write(chunk, 0, size);
        written += size;
      } catch (IOException e) {
        if (e.getMessage() == null || !e.getMessage().contains("No space left on device")) {
          throw e;
        }
        // full at this size: try a smaller piece
      }
    }
    return written;
  }

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("%s finished", String.join(" ", cmd)).isTrue();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as("%s: %s", String.join(" ", cmd), out).isZero();
  }
}
